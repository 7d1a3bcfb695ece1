"""Real servers on loopback for the shared store: PostgreSQL (the DuckLake catalog) and moto (S3).

PostgreSQL refuses to run as root: as root, the cluster folder is given to the `postgres` user and
every command runs as that user; as anyone else, as oneself. Each server listens on a free loopback
port, keeps its socket in its own folder, and is stopped by `stop()` (its pid only).
Used by the test fixtures (tests/conftest.py) and the bench scripts.
"""

from __future__ import annotations

import glob
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from .wait import wait_until

# Servers the tests start listen below the kernel's ephemeral range (32768-60999 on Linux), so a port just
# found free is not taken by some client's outgoing connection before the server binds it; picked at
# random so parallel workers (and other checkouts' suites) rarely try the same one, and checked free.
_PORTS = range(15000, 32000)
_random = random.Random()  # its own generator: tests that seed `random` do not make workers agree


def free_port() -> int:
    """A loopback port nothing listens on (servers that can retry still do: see start_postgres)."""
    for _ in range(200):
        port = _random.choice(_PORTS)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free loopback port found")


def pg_bindir() -> Path:
    """Where initdb and pg_ctl are: on the PATH, else pg_config --bindir, else Debian's folder."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(os.path.realpath(shutil.which("pg_ctl"))).parent
    try:
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, timeout=10).stdout.strip()
        if out and (Path(out) / "initdb").exists():
            return Path(out)
    except (OSError, subprocess.SubprocessError):
        pass
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(folder) / "initdb").exists():
            return Path(folder)
    raise RuntimeError("PostgreSQL's initdb/pg_ctl not found: `make test` installs them (apt postgresql)")


def _as_owner(args: list[str], **kw) -> subprocess.CompletedProcess:
    if os.geteuid() == 0:
        args = ["runuser", "-u", "postgres", "--", *args]
    return subprocess.run(args, capture_output=True, text=True, check=True, timeout=120, **kw)


@dataclass
class Postgres:
    folder: Path
    port: int
    bindir: Path
    password: str | None = None
    databases: list[str] = field(default_factory=list)

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def create_database(self, name: str | None = None) -> str:
        name = name or f"lake_{uuid.uuid4().hex[:10]}"
        env = {**os.environ, **({"PGPASSWORD": self.password} if self.password else {})}
        _as_owner([str(self.bindir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name],
                  env=env)
        self.databases.append(name)
        return name

    def url(self, data_path: str | Path, dbname: str | None = None) -> str:
        """A store URL on a new database of this server (one per store: a catalog keeps its data path)."""
        return f"ducklake+postgresql://postgres@127.0.0.1:{self.port}/{dbname or self.create_database()}" \
               f"?data_path={data_path}"

    def stop(self) -> None:
        try:
            _as_owner([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"])
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.folder, ignore_errors=True)


def start_postgres(password: str | None = None) -> Postgres:
    """initdb + pg_ctl start in a new temporary folder, on a free loopback port (trust, or scram with
    `password` for the user postgres)."""
    bindir = pg_bindir()
    folder = Path(tempfile.mkdtemp(prefix="vton-pg-"))
    os.chmod(folder, 0o755)
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    pg = Postgres(folder, 0, bindir, password)
    init = [str(bindir / "initdb"), "-D", str(pg.data), "-U", "postgres", "--no-sync", "-E", "UTF8"]
    if password:
        pwfile = folder / "pw"
        pwfile.write_text(password)
        if os.geteuid() == 0:
            shutil.chown(pwfile, "postgres", "postgres")
        init += ["-A", "scram-sha-256", f"--pwfile={pwfile}"]
    else:
        init += ["-A", "trust"]
    _as_owner(init)
    for _attempt in range(5):  # a free port can be taken before the server binds it: pick another
        pg.port = free_port()
        options = f"-p {pg.port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        try:
            _as_owner([str(bindir / "pg_ctl"), "-D", str(pg.data), "-o", options, "-l", str(folder / "log"),
                       "-w", "-t", "60", "start"])
            return pg
        except subprocess.CalledProcessError:
            continue
    raise RuntimeError(f"PostgreSQL did not start: {(folder / 'log').read_text()[-2000:]}")


@dataclass
class Moto:
    proc: subprocess.Popen
    port: int

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """The variables a process needs to reach this S3 (as it would a real one)."""
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "moto-secret-key-not-real", "AWS_REGION": "us-east-1"}

    def create_bucket(self, name: str | None = None) -> str:
        import boto3

        name = name or f"vton-{uuid.uuid4().hex[:10]}"
        env = self.env()
        boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                     aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                     region_name=env["AWS_REGION"]).create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str) -> list[str]:
        import boto3

        env = self.env()
        client = boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                              aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"], region_name=env["AWS_REGION"])
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return [o["Key"] for page in pages for o in page.get("Contents", [])]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start_moto() -> Moto:
    """moto's S3 in server mode on a free loopback port."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def up() -> bool:
        if proc.poll() is not None:
            raise RuntimeError("moto_server exited")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False

    wait_until(up, timeout=60, what="moto_server to listen")
    return Moto(proc, port)
