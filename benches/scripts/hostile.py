#!/usr/bin/env python3
"""Runs the hostile requests of issue 12 against an identity-server binary
and prints, per attack class, what the server answered and its peak RSS.

    python3 benches/scripts/hostile.py target/debug/identity-server

Each class gets a fresh server on `memory:` (schema registration: on a
schema file), so one crash does not hide the next. Peak RSS is VmHWM from
/proc, before and after the attack. Standard library only; loopback only.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    def __init__(self, binary, extra=(), wait=30):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [binary, "--listen", f"127.0.0.1:{self.port}", "--database", "memory:", *extra],
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )
        started = time.time()
        self.ready_after = None
        while time.time() < started + wait:
            if self.proc.poll() is not None:
                break
            try:
                urllib.request.urlopen(self.base + "/health/alive", timeout=1)
                self.ready_after = time.time() - started
                break
            except Exception:
                time.sleep(0.05)

    def rss_mib(self):
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM"):
                        return int(line.split()[1]) // 1024
        except FileNotFoundError:
            return None

    def alive(self):
        return self.proc.poll() is None

    def logs(self):
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def stop(self):
        if self.alive():
            self.proc.kill()
            self.proc.wait()


def request(server, method, path, body=None, timeout=60):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(server.base + path, data=data, method=method)
    if data is not None:
        req.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers.get("content-type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("content-type"), e.read().decode()
    except Exception as e:
        return None, None, type(e).__name__


def create(server, traits, credentials=None):
    body = {"traits": traits}
    if credentials:
        body["credentials"] = credentials
    status, _, text = request(server, "POST", "/admin/identities", body)
    return status, (json.loads(text) if status == 201 else text)


def report(name, server, before, outcome):
    try:
        # A process that is dying gets a moment to be seen dead.
        server.proc.wait(timeout=0.5)
    except subprocess.TimeoutExpired:
        pass
    after = server.rss_mib()
    state = "alive" if server.alive() else f"DEAD (exit {server.proc.returncode})"
    grown = "-" if after is None or before is None else f"{after - before}"
    print(f"{name:<34} {outcome:<48} process {state:<18} peak RSS {before} -> {after} MiB (+{grown})")


def attack_deep_patch(binary):
    s = Server(binary)
    _, ident = create(s, {"email": "deep@example.com"})
    before = s.rss_mib()
    path = "/metadata_admin" + "/a" * 2030
    status, _, _ = request(s, "PATCH", f"/admin/identities/{ident['id']}", [{"op": "add", "path": path, "value": 1}])
    report("PATCH 4 KB deep path", s, before, f"status {status}")
    s.stop()


def attack_copy_doubling(binary):
    s = Server(binary)
    _, ident = create(s, {"email": "copy@example.com"})
    before = s.rss_mib()
    ops = [{"op": "add", "path": "/metadata_admin/a", "value": "x" * 60000}]
    ops += [{"op": "copy", "from": "/metadata_admin", "path": f"/metadata_admin/c{i}"} for i in range(12)]
    status, _, _ = request(s, "PATCH", f"/admin/identities/{ident['id']}", ops)
    report("PATCH add + 12 self-copies", s, before, f"status {status}")
    s.stop()


def attack_secret_copy(binary):
    s = Server(binary)
    _, ident = create(
        s,
        {"email": "secret@example.com"},
        {"password": {"config": {"hashed_password": "$2a$04$18NdbUpOiB29DkZUKbUCzOrZR8RwXazlHCXHto2t9pVA5P4oJR7Ay"}}},
    )
    before = s.rss_mib()
    op = {"op": "copy", "from": "/credentials/password/config/hashed_password", "path": "/metadata_public/h"}
    status, _, _ = request(s, "PATCH", f"/admin/identities/{ident['id']}", [op])
    _, _, text = request(s, "GET", f"/admin/identities/{ident['id']}")
    leaked = "$2a$04$" in text
    report("PATCH copy hash to metadata", s, before, f"status {status}, hash in GET: {leaked}")
    op = {"op": "add", "path": "/credentials/password/config/password", "value": "hunter2"}
    status, _, _ = request(s, "PATCH", f"/admin/identities/{ident['id']}", [op])
    report("PATCH plaintext password", s, before, f"status {status}")
    s.stop()


def attack_hashing(binary, n=200):
    s = Server(binary)
    before = s.rss_mib()
    codes = []
    lock = threading.Lock()

    def one(i):
        status, _ = create(
            s,
            {"email": f"h{i}@example.com"},
            {"password": {"config": {"password": "correct horse battery staple"}}},
        )
        with lock:
            codes.append(status)

    started = time.time()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.time() - started
    report(f"{n} concurrent password creates", s, before, f"{codes.count(201)}x 201 in {took:.1f} s")
    s.stop()


def schema_file(defs, traits):
    f = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
    json.dump({"definitions": defs, "properties": {"traits": traits}}, f)
    f.close()
    return f.name


def attack_schemas(binary):
    defs = {f"d{i}": {"$ref": f"#/definitions/d{i + 1}"} for i in range(20000)}
    defs["d20000"] = {"type": "string"}
    chain = schema_file(defs, {"type": "object", "properties": {"a": {"$ref": "#/definitions/d0"}}})
    depth = 20
    d = {
        f"d{i}": {"type": "object", "properties": {"x": {"$ref": f"#/definitions/d{i + 1}"}, "y": {"$ref": f"#/definitions/d{i + 1}"}}}
        for i in range(depth)
    }
    d[f"d{depth}"] = {"type": "string", "format": "email", "ory.sh/kratos": {"verification": {"via": "email"}}}
    graph = schema_file(d, {"type": "object", "properties": {"a": {"$ref": "#/definitions/d0"}}})
    for name, path in (("schema: 20,000-long $ref chain", chain), ("schema: shared $ref graph, depth 20", graph)):
        # Start a server with the schema and see whether it comes up.
        s = Server(binary, ["--schema", f"x={path}"], wait=120)
        if s.ready_after is not None:
            outcome = f"schema accepted, serving after {s.ready_after:.1f} s"
        elif s.alive():
            outcome = "still registering after 120 s"
        else:
            last = s.logs().strip().splitlines()[-1:] or [""]
            outcome = f"exit {s.proc.returncode}: {last[0][-110:]}"
        print(f"{name:<34} {outcome}")
        s.stop()
        os.unlink(path)


def attack_look_alikes(binary):
    s = Server(binary, ["--schema", f"default={username_schema()}"])
    before = s.rss_mib()
    first, _ = create(s, {"username": "alice"})
    second, _ = create(s, {"username": "alice\u034f"})
    phone1, _ = create(s, {"username": "+1 650 253 0000"})
    phone2, _ = create(s, {"username": "\uff0b1 650 253 0000"})
    report("look-alike usernames", s, before, f"alice {first}, alice+CGJ {second}; +1.. {phone1}, fullwidth {phone2}")
    s.stop()


def username_schema():
    f = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
    json.dump(
        {"properties": {"traits": {"type": "object", "properties": {"username": {"type": "string", "ory.sh/kratos": {"credentials": {"password": {"identifier": True}}}}}}}},
        f,
    )
    f.close()
    return f.name


def attack_http_edges(binary):
    s = Server(binary)
    before = s.rss_mib()
    status, ctype, _ = request(s, "GET", "/schemas/%ff")
    report("GET /schemas/%ff", s, before, f"status {status}, {ctype}")
    request(s, "GET", "/admin/identities?credentials_identifier=leaky.person@example.com")
    time.sleep(0.3)
    report("email in a query", s, before, f"email in the log: {'leaky.person' in s.logs()}")
    status, _, _ = request(s, "GET", "/admin/identities?page=5000&per_page=1000")
    report("legacy page 5000 x 1000", s, before, f"status {status}")
    slow = []
    for _ in range(20):
        c = socket.create_connection(("127.0.0.1", s.port))
        c.sendall(b"GET /health/alive HTTP/1.1\r\nHost: x\r\n")
        slow.append(c)
    time.sleep(12)
    held = sum(1 for c in slow if not closed(c))
    report("20 slow clients, after 12 s", s, before, f"{held} still connected")
    slow = []
    for _ in range(20):
        c = socket.create_connection(("127.0.0.1", s.port))
        c.sendall(b"GET /health/alive HTTP/1.1\r\n")
        slow.append(c)
    started = time.time()
    s.proc.terminate()
    try:
        code = s.proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        code = "none in 60 s"
    print(f"{'SIGTERM with 20 slow clients':<34} exit {code} after {time.time() - started:.1f} s")
    s.stop()


def closed(conn):
    conn.setblocking(False)
    try:
        return conn.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


if __name__ == "__main__":
    binary = sys.argv[1]
    attack_deep_patch(binary)
    attack_copy_doubling(binary)
    attack_secret_copy(binary)
    attack_hashing(binary)
    attack_schemas(binary)
    attack_look_alikes(binary)
    attack_http_edges(binary)
