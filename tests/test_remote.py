"""``--on ssh://...``: verify, bench, calibrate and inspect on a "board" behind a real OpenSSH server.

The board is ``sshd`` on 127.0.0.1 (tests/remote_helpers.py) whose PATH has the base-only venv's edgekit
(.venv-device: no TensorFlow), so these tests prove the light install does the remote work. Faults are
real: connection refused, a port that does not speak SSH, a key the board does not know, an unknown and a
changed host key, no edgekit on the board, an edgekit that crashes (exit 139), the connection killed
during the upload and during the run, a tiny tmpfs as the board's full disk. After every run the
board's $TMPDIR must be empty: nothing is left behind.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from remote_helpers import (
    DEVICE_VENV,
    Board,
    Workstation,
    board_processes,
    fake_edgekit,
    free_port,
    keygen,
    make_workstation,
    require_prerequisites,
    sample_bundle,
    start_board,
    wait_for,
)

from edgekit.errors import EXIT_BACKEND, EXIT_USAGE, UsageError
from edgekit.remote.fingerprint import Fingerprint, parse_fingerprint, parse_lines, throttled_during
from edgekit.remote.report import RemoteReport, TargetResult
from edgekit.remote.target import Target, parse_target, read_targets
from edgekit.results import result_from_dict

# ---------------------------------------------------------------- without a board


def test_targets_parse_like_ssh_urls(tmp_path: Path) -> None:
    assert parse_target("ssh://pi@raspberrypi.local") == Target("raspberrypi.local", "pi", None)
    assert parse_target("ssh://10.0.0.7:2222") == Target("10.0.0.7", None, 2222)
    assert parse_target("ssh://pi@[fe80::1]:22").host == "fe80::1"
    assert parse_target("ssh://pi@board:2222").label == "ssh://pi@board:2222"
    assert Target("kitchen pi", None, 2222).default_device_id() == "kitchen-pi-2222"
    for bad in ("pi@board", "ssh://", "ssh://pi@board:99999", "ssh://pi@bo ard", "http://board"):
        with pytest.raises(UsageError):
            parse_target(bad)
    fleet = tmp_path / "boards.txt"
    fleet.write_text("# the field boards\nssh://pi@a\n\nssh://pi@b:2222  # the one in the shed\nssh://pi@a\n")
    assert [t.label for t in read_targets([f"@{fleet}", "ssh://pi@c"])] == [
        "ssh://pi@a", "ssh://pi@b:2222", "ssh://pi@c"]


PI4_FACTS = """EDGEKIT-REMOTE hostname=raspberrypi
EDGEKIT-REMOTE arch=aarch64
EDGEKIT-REMOTE board=Raspberry Pi 4 Model B Rev 1.5
EDGEKIT-REMOTE cpu_model_name=
EDGEKIT-REMOTE cpu_part=0xd08
EDGEKIT-REMOTE cpu_implementer=0x41
EDGEKIT-REMOTE cores=4
EDGEKIT-REMOTE governor=ondemand
EDGEKIT-REMOTE max_clock_khz=1800000
EDGEKIT-REMOTE clock_khz=600000
EDGEKIT-REMOTE temp_millic=47712
EDGEKIT-REMOTE throttled=throttled=0x0
EDGEKIT-REMOTE os=Debian GNU/Linux 12 (bookworm)
EDGEKIT-REMOTE python=3.11.2
EDGEKIT-REMOTE pkg_edgekit=0.1.0
EDGEKIT-REMOTE pkg_ai-edge-litert=2.3.0
a login script's greeting is ignored
""".splitlines()


def test_fingerprint_reads_a_pi_and_its_throttling() -> None:
    fp = parse_fingerprint(parse_lines(PI4_FACTS))
    assert (fp.board, fp.cpu, fp.cores, fp.governor) == ("Raspberry Pi 4 Model B Rev 1.5", "Cortex-A72", 4, "ondemand")
    assert (fp.clock_mhz, fp.max_clock_mhz, fp.temperature_c, fp.throttled) == (600.0, 1800.0, 47.712, 0)
    assert (fp.python, fp.runtime, fp.edgekit) == ("3.11.2", "ai-edge-litert 2.3.0", "0.1.0")
    assert "Cortex-A72" in fp.summary() and "throttled: no" in fp.summary()
    assert Fingerprint.from_dict(fp.to_dict()) == fp
    hot = Fingerprint(throttled=0x40004)  # throttled now, and since boot
    assert throttled_during(fp, hot) is not None and "throttled now" in str(throttled_during(fp, hot))
    assert throttled_during(fp, fp) is None
    # bits that were already set since boot before the run are not news; bits set now are
    old_news = Fingerprint(throttled=0x50000)
    assert throttled_during(old_news, old_news) is None
    assert throttled_during(Fingerprint(throttle_count=3), Fingerprint(throttle_count=5)) is not None


def test_remote_report_reads_back_by_kind() -> None:
    board = TargetResult("ssh://pi@a", 0, result={"kind": "inspect"}, fingerprint=Fingerprint(cores=4))
    failed = TargetResult("ssh://pi@b", 3, error="ssh://pi@b: connection refused", hint="Check the port.")
    report = RemoteReport("inspect", (board, failed))
    again = result_from_dict(report.to_dict())
    assert isinstance(again, RemoteReport) and again.to_dict() == report.to_dict()
    assert report.exit_code == 3 and [t["target"] for t in report.to_dict()["targets"]] == ["ssh://pi@a", "ssh://pi@b"]


def test_remote_options_need_on(runner: object, sample_int8: Path) -> None:
    from click.testing import CliRunner

    from edgekit.cli import main

    result = CliRunner().invoke(main, ["inspect", str(sample_int8), "--remote-edgekit", "/opt/ek/bin/edgekit"])
    assert result.exit_code == EXIT_USAGE and "only applies with --on" in result.stderr
    result = CliRunner().invoke(main, ["verify", str(sample_int8), str(sample_int8), "--on", "ssh://pi@board"])
    assert result.exit_code == EXIT_USAGE and "verify BUNDLE_DIR" in result.stderr


# ---------------------------------------------------------------- a real sshd on the loopback


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory, sample_int8: Path) -> Workstation:
    require_prerequisites()
    root = tmp_path_factory.mktemp("remote")
    station = make_workstation(root / "station")
    sample_bundle(sample_int8, station.cwd / "bundle")
    shutil.copy(sample_int8, station.cwd / "model.tflite")
    return station


@pytest.fixture(scope="module")
def boards(ws: Workstation, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Board, Board]]:
    root = tmp_path_factory.mktemp("boards")
    one = start_board(root / "one", [ws.key])
    two = start_board(root / "two", [ws.key])
    ws.trust(one, two)
    yield one, two
    one.stop()
    two.stop()


@pytest.fixture()
def board(boards: tuple[Board, Board]) -> Iterator[Board]:
    yield boards[0]
    assert boards[0].leftovers() == [], "the board kept a temporary folder"


def on_board(ws: Workstation, args: list[str]) -> subprocess.CompletedProcess[str]:
    """The same command run directly on the board (its edgekit, same folder), to compare with --on."""
    env = {k: v for k, v in os.environ.items() if k != "EDGEKIT_PROFILES"}
    return subprocess.run([str(DEVICE_VENV / "bin" / "edgekit"), *args], cwd=ws.cwd, env=env, capture_output=True,
                          text=True, timeout=240, check=False)


def test_verify_on_the_board_prints_what_the_board_prints(ws: Workstation, board: Board) -> None:
    direct = on_board(ws, ["verify", "bundle"])
    remote = ws.run(["verify", "bundle", "--on", board.url])
    assert direct.returncode == 0 and remote.returncode == 0, remote.stderr
    assert remote.stdout == direct.stdout  # same tables, byte for byte
    assert f"[{board.url}] board: " in remote.stderr and f"[{board.url}] verify passed on 8 samples" in remote.stderr

    remote_json = json.loads(ws.run(["verify", "bundle", "--on", board.url, "--json"]).stdout)
    direct_json = json.loads(on_board(ws, ["verify", "bundle", "--json"]).stdout)
    (entry,) = remote_json["targets"]
    assert remote_json["kind"] == "remote" and remote_json["command"] == "verify"
    assert entry["target"] == board.url and entry["exit_code"] == 0 and entry["error"] is None
    assert entry["result"] == direct_json  # same verdict and metrics, paths as the user gave them
    fp = entry["fingerprint"]
    assert fp["cores"] and fp["arch"] and fp["os"] and fp["edgekit"] == "0.1.0" and fp["python"]
    assert fp["runtime"] == direct_json["runtime"]


def test_verify_failure_on_the_board_is_exit_1_with_its_report(ws: Workstation, board: Board) -> None:
    import numpy as np

    bad = ws.cwd / "bad-bundle"
    if not bad.exists():
        shutil.copytree(ws.cwd / "bundle", bad)
        with np.load(bad / "golden.npz") as npz:
            arrays = {k: (np.roll(v, 1, axis=0) if k.startswith("output:") else v) for k, v in npz.items()}
        np.savez_compressed(bad / "golden.npz", **arrays)  # the stored outputs belong to other samples now
    remote = ws.run(["verify", "bad-bundle", "--on", board.url])
    direct = on_board(ws, ["verify", "bad-bundle"])
    assert remote.returncode == direct.returncode == 1
    assert remote.stdout == direct.stdout and "FAIL" in remote.stdout
    error = [line for line in direct.stderr.splitlines() if line.startswith("Error: ")]
    assert error and f"Error: {error[0][len('Error: '):]}" in remote.stderr.splitlines()
    # the board's own usage errors come back as they are, exit 2
    usage = ws.run(["verify", "bundle", "--min-cosine", "1.5", "--on", board.url])
    assert usage.returncode == EXIT_USAGE and "--min-cosine 1.5 is outside [-1, 1]" in usage.stderr


def test_verify_on_the_board_with_html_report(ws: Workstation, boards: tuple[Board, Board]) -> None:
    """--html with --on: the board's JSON becomes the report on the workstation, every figure from that JSON."""
    pytest.importorskip("jinja2")
    from report_helpers import check_report, external_references, parse_report

    board, other = boards
    out = ws.cwd / "board-verify.html"
    out.unlink(missing_ok=True)
    remote = ws.run(["verify", "bundle", "--on", board.url, "--html", str(out)])
    assert remote.returncode == 0, remote.stderr
    direct_json = json.loads(on_board(ws, ["verify", "bundle", "--json"]).stdout)
    html = out.read_text()
    assert external_references(html, parse_report(html)) == []
    check_report(html, direct_json)  # deterministic: the same bundle gives the same metrics on the board
    again = ws.run(["verify", "bundle", "--on", board.url, "--html", str(out)])
    assert again.returncode == EXIT_USAGE and "--force" in again.stderr and out.read_text() == html
    fleet = ws.run(["verify", "bundle", "--on", board.url, "--on", other.url, "--html", str(ws.cwd / "x.html")])
    assert fleet.returncode == EXIT_USAGE and "several" in fleet.stderr and not (ws.cwd / "x.html").exists()


@pytest.mark.slow
def test_bench_on_the_board_matches_the_board(ws: Workstation, board: Board) -> None:
    """The same measurement through --on as on the board itself, within 10%.

    Alternating rounds, so a busy moment of this shared machine does not favour one side; the figure is
    the CPU time per inference at one thread (what the model costs, whoever else runs), the best round's
    median on each side."""
    args = ["bench", "model.tflite", "--threads", "1", "--runs", "200", "--json"]
    got_rounds, want_rounds = [], []
    for _ in range(3):
        remote = ws.run([*args, "--on", board.url])
        direct = on_board(ws, args)
        assert remote.returncode == 0 and direct.returncode == 0, remote.stderr
        got = json.loads(remote.stdout)["targets"][0]["result"]
        want = json.loads(direct.stdout)
        assert got["model"] == "model.tflite" and got["runtime"] == want["runtime"]
        assert got["machine"] == want["machine"]
        got_rounds.append(got["results"][0]["cpu_ms"]["median"])
        want_rounds.append(want["results"][0]["cpu_ms"]["median"])
    g, w = min(got_rounds), min(want_rounds)
    assert abs(g / w - 1) <= 0.10, (got_rounds, want_rounds)
    human = ws.run(["bench", "model.tflite", "--runs", "5", "--on", board.url])
    assert human.returncode == 0 and human.stdout.startswith("model.tflite: measured on this machine")


def test_inspect_on_the_board(ws: Workstation, board: Board) -> None:
    remote = ws.run(["inspect", "model.tflite", "--no-ops", "--on", board.url])
    direct = on_board(ws, ["inspect", "model.tflite", "--no-ops"])
    assert remote.returncode == 0 and remote.stdout == direct.stdout


def test_two_boards_side_by_side(ws: Workstation, boards: tuple[Board, Board]) -> None:
    one, two = boards
    fleet = ws.cwd / "boards.txt"
    fleet.write_text(f"# both boards\n{one.url}\n{two.url}\n")
    result = ws.run(["verify", "bundle", "--on", f"@{fleet}"])
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("ssh://")]
    assert [r.split()[0] for r in rows[:2]] == [one.url, two.url] and all(" PASS " in r for r in rows[:2])
    data = json.loads(ws.run(["verify", "bundle", "--on", one.url, "--on", two.url, "--json"]).stdout)
    assert [t["target"] for t in data["targets"]] == [one.url, two.url]
    assert all(t["result"]["passed"] for t in data["targets"]) and data["exit_code"] == 0
    assert one.leftovers() == [] and two.leftovers() == []


def test_one_board_down_does_not_stop_the_others(ws: Workstation, board: Board) -> None:
    down = f"ssh://root@127.0.0.1:{free_port()}"
    result = ws.run(["bench", "model.tflite", "--runs", "5", "--on", board.url, "--on", down, "--json"])
    assert result.returncode == EXIT_BACKEND
    up_entry, down_entry = json.loads(result.stdout)["targets"]
    assert up_entry["exit_code"] == 0 and up_entry["result"]["kind"] == "bench"
    assert down_entry["exit_code"] == EXIT_BACKEND and "connection refused" in down_entry["error"]["message"]
    table = ws.run(["bench", "model.tflite", "--runs", "5", "--on", board.url, "--on", down])
    assert table.returncode == EXIT_BACKEND and "connection refused" in table.stdout
    assert "1 of 2 boards" in table.stderr


@pytest.mark.slow
def test_calibrate_on_the_board_then_profile_uses_it(ws: Workstation, board: Board) -> None:
    profiles = ws.cwd / "profiles"
    profiles.mkdir()
    result = ws.run(["calibrate", "--on", board.url, "--profiles", str(profiles), "--id", "bench-pi",
                     "--budget-s", "5", "--threads", "1"], timeout=600)
    assert result.returncode == 0, result.stderr
    written = profiles / "bench-pi.toml"
    assert written.is_file() and f"Wrote {written}" in result.stdout
    assert [p.name for p in profiles.iterdir()] == ["bench-pi.toml"]  # no temp file left beside it
    prof = ws.run(["profile", "model.tflite", "--device", "bench-pi", "--profiles", str(profiles), "--json"])
    assert prof.returncode == 0, prof.stderr
    (entry,) = json.loads(prof.stdout)["devices"]
    assert entry["device"] == "bench-pi" and entry["profile_source"] == "calibrated"
    assert entry["profile_file"] == str(written)
    again = ws.run(["calibrate", "--on", board.url, "--profiles", str(profiles), "--id", "bench-pi", "--budget-s", "5"])
    assert again.returncode == EXIT_USAGE and "already exists" in again.stderr  # refused before connecting


# ---------------------------------------------------------------- SSH as users expect it


def test_ssh_config_alias_and_agent_key(ws: Workstation, board: Board, tmp_path: Path) -> None:
    """A Host alias from ~/.ssh/config, and the only usable key held by ssh-agent (no key file in ~/.ssh)."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True, mode=0o700)
    (home / ".ssh" / "known_hosts").write_text(board.known_hosts_line())
    (home / ".ssh" / "config").write_text(f"Host kitchen-pi\n  HostName 127.0.0.1\n  Port {board.port}\n  User root\n")
    sock = tmp_path / "agent.sock"
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_for(sock.exists, 10)
        env = {**os.environ, "SSH_AUTH_SOCK": str(sock)}
        subprocess.run(["ssh-add", "-q", str(ws.key)], env=env, check=True, timeout=30, capture_output=True)
        user = Workstation(home, ws.key, ws.cwd, {"SSH_AUTH_SOCK": str(sock)})
        result = user.run(["inspect", "model.tflite", "--no-ops", "--on", "ssh://kitchen-pi"])
        assert result.returncode == 0, result.stderr
        assert "[ssh://kitchen-pi] board:" in result.stderr
    finally:
        agent.terminate()
        agent.wait(timeout=10)


def test_identity_file_and_auth_failure(ws: Workstation, board: Board, tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True, mode=0o700)
    (home / ".ssh" / "known_hosts").write_text(board.known_hosts_line())
    user = Workstation(home, ws.key, ws.cwd)
    ok = user.run(["inspect", "model.tflite", "--on", board.url, "--identity", str(ws.key)])
    assert ok.returncode == 0, ok.stderr
    stranger = keygen(tmp_path / "stranger")
    bad = user.run(["inspect", "model.tflite", "--on", board.url, "--identity", str(stranger)])
    assert bad.returncode == EXIT_USAGE
    assert f"Error: {board.url}: authentication as root failed" in bad.stderr and "ssh-copy-id" in bad.stderr


def test_unknown_host_is_refused_then_accepted_once(ws: Workstation, board: Board, tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True, mode=0o700)
    shutil.copy(ws.key, home / ".ssh" / "id_ed25519")
    user = Workstation(home, ws.key, ws.cwd)
    refused = user.run(["inspect", "model.tflite", "--on", board.url])
    assert refused.returncode == EXIT_USAGE and "is not in" in refused.stderr and "SHA256:" in refused.stderr
    assert "--accept-new-host-key" in refused.stderr and not (home / ".ssh" / "known_hosts").exists()
    accepted = user.run(["inspect", "model.tflite", "--on", board.url, "--accept-new-host-key"])
    assert accepted.returncode == 0, accepted.stderr
    assert (home / ".ssh" / "known_hosts").read_text() == board.known_hosts_line()
    assert user.run(["inspect", "model.tflite", "--on", board.url]).returncode == 0  # known now


def test_changed_host_key_is_always_refused(ws: Workstation, board: Board, tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True, mode=0o700)
    shutil.copy(ws.key, home / ".ssh" / "id_ed25519")
    impostor = keygen(tmp_path / "impostor").with_suffix(".pub").read_text().split()
    (home / ".ssh" / "known_hosts").write_text(f"[127.0.0.1]:{board.port} {impostor[0]} {impostor[1]}\n")
    user = Workstation(home, ws.key, ws.cwd)
    for extra in ([], ["--accept-new-host-key"]):
        result = user.run(["inspect", "model.tflite", "--on", board.url, *extra])
        assert result.returncode == EXIT_USAGE and "HOST KEY MISMATCH" in result.stderr, result.stderr
        assert "ssh-keygen -R" in result.stderr


# ---------------------------------------------------------------- faults: clear, exit 2 or 3, nothing left


def test_connection_refused_and_a_port_that_is_not_ssh(ws: Workstation) -> None:
    import socket
    import threading

    refused = ws.run(["inspect", "model.tflite", "--on", f"ssh://root@127.0.0.1:{free_port()}"])
    assert refused.returncode == EXIT_BACKEND and "connection refused" in refused.stderr
    assert refused.stderr.count("Error:") == 1 and "Traceback" not in refused.stderr

    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def http_once() -> None:
        server.settimeout(60)
        try:
            conn, _ = server.accept()
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            conn.close()
        except OSError:
            pass

    thread = threading.Thread(target=http_once, daemon=True)
    thread.start()
    try:
        wrong = ws.run(["inspect", "model.tflite", "--on", f"ssh://root@127.0.0.1:{port}"])
    finally:
        server.close()
    assert wrong.returncode == EXIT_USAGE and "does not speak SSH" in wrong.stderr and "wrong port" in wrong.stderr


def test_no_edgekit_on_the_board(ws: Workstation, tmp_path: Path) -> None:
    bare = start_board(tmp_path / "bare", [ws.key], with_edgekit=False)
    try:
        ws.trust(bare)
        result = ws.run(["verify", "bundle", "--on", bare.url])
        assert result.returncode == EXIT_USAGE
        assert "edgekit is not installed on the board" in result.stderr and "pip install edgekit" in result.stderr
        given = ws.run(["verify", "bundle", "--on", bare.url, "--remote-edgekit", "/opt/nowhere/bin/edgekit"])
        assert given.returncode == EXIT_USAGE and "/opt/nowhere/bin/edgekit" in given.stderr
        old = fake_edgekit(tmp_path / "old-edgekit", "exit 0", version="0.0.9")
        too_old = ws.run(["verify", "bundle", "--on", bare.url, "--remote-edgekit", str(old)])
        assert too_old.returncode == EXIT_USAGE and "too old" in too_old.stderr and "pip install --upgrade" in too_old.stderr
        assert bare.leftovers() == []
    finally:
        bare.stop()


def test_edgekit_crashing_on_the_board(ws: Workstation, board: Board, tmp_path: Path) -> None:
    crash = fake_edgekit(tmp_path / "crashing-edgekit", 'echo "working on $2" >&2\nsleep 0.3\nkill -SEGV $$',
                         behaviour="dies of SIGSEGV mid-run")
    result = ws.run(["bench", "model.tflite", "--on", board.url, "--remote-edgekit", str(crash)])
    assert result.returncode == EXIT_BACKEND
    assert "crashed on the board (SIGSEGV, exit 139)" in result.stderr and "working on" in result.stderr
    exit139 = fake_edgekit(tmp_path / "exit-139", "exit 139")
    again = ws.run(["bench", "model.tflite", "--on", board.url, "--remote-edgekit", str(exit139)])
    assert again.returncode == EXIT_BACKEND and "exit 139" in again.stderr


def test_connection_dropped_during_the_upload(ws: Workstation, board: Board) -> None:
    big = ws.cwd / "big.npy"
    big.write_bytes(os.urandom(96 * 2**20))  # long enough on the loopback to be cut in the middle
    try:
        proc = ws.popen(["bench", "model.tflite", "--data", str(big), "--on", board.url])
        uploading = wait_for(lambda: any(board.tmpdir.glob("edgekit-remote.*/data-big.npy")), 60, 0.005)
        killed = board.drop_connections()
        out, err = proc.communicate(timeout=120)
    finally:
        big.unlink()
    assert uploading and killed >= 1
    assert proc.returncode == EXIT_BACKEND, err
    assert "the connection to the board dropped during the upload" in err and "Traceback" not in err
    assert wait_for(lambda: board.leftovers() == [], 15), board.leftovers()  # the guard removed it


def test_connection_dropped_during_the_run(ws: Workstation, board: Board, tmp_path: Path) -> None:
    slow = fake_edgekit(tmp_path / "slow-edgekit", "sleep 120", behaviour="takes two minutes")
    proc = ws.popen(["bench", "model.tflite", "--on", board.url, "--remote-edgekit", str(slow)])
    running = wait_for(lambda: any(board.tmpdir.glob("edgekit-remote.*/.pgid")), 60)
    time.sleep(0.3)
    killed = board.drop_connections()
    out, err = proc.communicate(timeout=120)
    assert running and killed >= 1
    assert proc.returncode == EXIT_BACKEND and "dropped during edgekit bench" in err, err
    assert wait_for(lambda: board.leftovers() == [], 15), board.leftovers()
    assert wait_for(lambda: board_processes(str(slow)) == [], 15)  # the guard stopped the run too


def test_the_boards_disk_is_full(ws: Workstation, tmp_path: Path) -> None:
    tiny = tmp_path / "tiny"
    tiny.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "edgekit-test", str(tiny)],
                             capture_output=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr!r}")
    try:
        full = start_board(tmp_path / "full", [ws.key], tmpdir=tiny)
        try:
            ws.trust(full)
            result = ws.run(["verify", "bundle", "--on", full.url])
            assert result.returncode == EXIT_BACKEND
            assert "the board's disk is full" in result.stderr and "free" in result.stderr
            assert full.leftovers() == []
        finally:
            full.stop()
    finally:
        subprocess.run(["umount", str(tiny)], check=False, timeout=30)


# ---------------------------------------------------------------- the emulated Raspberry Pi as the board

PI_BOARD = os.environ.get("EDGEKIT_TEST_PI_BOARD")  # set by scripts/test-pi: sshd inside the emulated Pi


@pytest.mark.skipif(not PI_BOARD, reason="scripts/test-pi runs this with its emulated Pi's sshd as the board")
def test_the_emulated_pi_as_the_board(tmp_path: Path, sample_int8: Path) -> None:
    """--on with an aarch64 board: sshd, sh and edgekit run under qemu's Cortex-A72 in the Pi's root filesystem."""
    require_prerequisites()
    key, host_line, board_tmp = (os.environ[k] for k in ("EDGEKIT_TEST_PI_KEY", "EDGEKIT_TEST_PI_KNOWN_HOST",
                                                           "EDGEKIT_TEST_PI_BOARD_TMP"))
    station = make_workstation(tmp_path / "station")
    shutil.copy(key, station.ssh / "id_ed25519")
    (station.ssh / "known_hosts").write_text(host_line + "\n")
    sample_bundle(sample_int8, station.cwd / "bundle")
    shutil.copy(sample_int8, station.cwd / "model.tflite")
    here = station.run(["verify", "bundle", "--json"])  # the same bundle verified on this x86_64 workstation
    result = station.run(["verify", "bundle", "--on", str(PI_BOARD), "--json"], timeout=900)
    assert result.returncode == 0, result.stderr
    (entry,) = json.loads(result.stdout)["targets"]
    fp = entry["fingerprint"]
    assert fp["arch"] == "aarch64" and fp["cpu"] == "Cortex-A72" and fp["board"].startswith("Raspberry Pi 4")
    assert fp["python"].startswith("3.11") and fp["runtime"].startswith("ai-edge-litert")
    board, local = entry["result"], json.loads(here.stdout)
    assert board["passed"] and board["outputs"] == local["outputs"]  # XNNPACK on the A72 matches x86 bit for bit
    bench = station.run(["bench", "model.tflite", "--runs", "5", "--on", str(PI_BOARD)], timeout=900)
    assert bench.returncode == 0 and "measured on this machine (aarch64)" in bench.stdout, bench.stderr
    assert list(Path(board_tmp).iterdir()) == []


def test_bench_warns_when_the_board_throttled(ws: Workstation, tmp_path: Path) -> None:
    """A board whose `vcgencmd get_throttled` reports throttling after the run (a stand-in vcgencmd on its PATH:
    0x0 the first time it is asked, "throttled now" and "since boot" afterwards)."""
    tools = tmp_path / "tools"
    tools.mkdir()
    state = tmp_path / "asked"
    vcgencmd = tools / "vcgencmd"
    vcgencmd.write_text(f'#!/bin/sh\nif [ -e {state} ]; then echo throttled=0x40004; else touch {state}; '
                        'echo throttled=0x0; fi\n')
    vcgencmd.chmod(0o755)
    hot = start_board(tmp_path / "hot", [ws.key], path_dirs=[tools])
    try:
        ws.trust(hot)
        result = ws.run(["bench", "model.tflite", "--runs", "5", "--on", hot.url])
        assert result.returncode == 0, result.stderr
        assert "Warning: the board throttled during the bench run" in result.stderr and "throttled now" in result.stderr
        data = json.loads(ws.run(["bench", "model.tflite", "--runs", "5", "--on", hot.url, "--json"]).stdout)
        (entry,) = data["targets"]
        assert entry["fingerprint_after"]["throttle_flags"] == ["throttled now", "throttled since boot"]
        assert entry["warnings"] and hot.leftovers() == []
    finally:
        hot.stop()
