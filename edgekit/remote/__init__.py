"""Run a device command on a board over SSH: ``edgekit verify bundle/ --on ssh://pi@board``.

The workstation pushes what the command needs into a fresh temporary folder on the board (SFTP), runs
the board's own ``edgekit ... --json`` there, pulls the JSON back and renders it with the same typed
result as a local run (:func:`edgekit.results.result_from_dict`). Nothing is installed on the board;
the temporary folder is removed by a guard process on the board whatever happens, even when the
connection drops (docs/REMOTE.md).

Device-safe: importing any module here imports no SSH library; paramiko (``pip install
'edgekit[remote]'``, workstation side only) is imported when a connection is made.

    target.py       ssh://[user@]host[:port] and @FILE lists of them
    fingerprint.py  the board's identity and state (CPU, clock, temperature, throttling, versions)
    ssh.py          the SSH connection: ~/.ssh/config, ssh-agent, keys, known_hosts; errors as EdgekitErrors
    job.py          one command on one board: guard, upload, run, pull, clean up
    fleet.py        the same command on many boards, a bounded number of connections at a time
    report.py       RemoteReport (kind "remote"): one entry per board, side by side
"""
