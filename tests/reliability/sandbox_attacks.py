"""Escape attempts against the ``python`` tool's sandbox, and harmless snippets, as data.

Each `Attack` is real code run in the real bubblewrap sandbox. A `Canary`
plants what an escape would reach (an ``~/.ssh`` key and a project ``.env`` in a
temp dir, a secret in this process's environment, loopback TCP/UDP listeners
and an abstract unix socket, an empty dir outside the sandbox) and `judge`
checks the host afterwards: canary files unchanged, no new files outside, zero
listener hits, no secret in anything that came back or was logged, no sandbox
process left, and any expected limit hit. Placeholders such as ``@HOME@`` in
the code are replaced with the canary's paths, so attacks aim at real targets.

`run_sandbox_suite()` runs everything and returns the counts the reliability
report prints. It refuses to run attacks when the sandbox is unavailable:
attacks are never run unsandboxed.
"""

# The tables below keep each snippet on one line so they read as data.
# ruff: noqa: E501

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import shutil
import socket
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from agent._internal.io_loop import io_loop
from agent.observation import ErrorKind, Observation
from tools._sandbox import probe_sandbox
from tools.code import PythonTool, SandboxOptions

__all__ = [
    "ATTACKS",
    "HARMLESS",
    "SUITE_OPTIONS",
    "Attack",
    "Canary",
    "Snippet",
    "Verdict",
    "judge",
    "leftover_sandbox_processes",
    "run_attack",
    "run_sandbox_suite",
]

SECRET_VAR = "PONDER_TEST_SECRET"
# Printed first by every attack: a sandbox that fails to start must not pass as "contained".
STARTED = "print('attack-started', flush=True)\n"
# Tight limits so bombs end fast; harmless snippets still fit easily. The wall
# limit is far above the CPU limit so a loaded machine still hits the CPU one.
SUITE_OPTIONS = SandboxOptions(
    cpu_s=1, wall_s=12, memory_mb=256, file_mb=8, disk_mb=32, max_processes=24,
    output_bytes=200_000,
)  # fmt: skip


@dataclass(frozen=True)
class Attack:
    category: str
    name: str
    code: str
    expect: ErrorKind | None = None  # the error kind the run must end with, if any
    expect_text: str = ""  # and a phrase its observation must contain (which limit hit)


@dataclass(frozen=True)
class Snippet:
    name: str
    code: str
    expect: str  # exact stdout, stripped


def _a(
    category: str, name: str, code: str, expect: ErrorKind | None = None, text: str = ""
) -> Attack:
    return Attack(category, name, code.strip() + "\n", expect, text)


_READ = "print(open('@HOME@/.ssh/id_canary').read())"
ATTACKS: tuple[Attack, ...] = (
    # 1. shell commands
    _a("shell", "os_system", "import os\nprint(os.system('echo pwned > @PWN@; cat @HOME@/.ssh/id_canary'))"),
    _a("shell", "os_popen", "import os\nprint(os.popen('cat @PROJECT@/.env; touch @OUTSIDE@/p').read())"),
    _a("shell", "execv_sh", "import os\nos.execv('/bin/sh', ['sh', '-c', 'echo x > @PWN@; env; cat @PROJECT@/.env'])"),
    # 2. subprocess, including the route that needs no import
    _a("subprocess", "run_shell", "import subprocess\nprint(subprocess.run('touch @PWN@; cat @HOME@/.ssh/id_canary', shell=True, capture_output=True))"),
    _a("subprocess", "popen_list", "import subprocess\np = subprocess.Popen(['cp', '@PROJECT@/.env', '@OUTSIDE@/stolen'])\nprint(p.wait())"),
    _a("subprocess", "subclasses_popen", """
popen = [c for c in ().__class__.__base__.__subclasses__() if c.__name__ == 'Popen']
if not popen:
    import subprocess  # makes Popen appear among the subclasses
    popen = [c for c in object.__subclasses__() if c.__name__ == 'Popen']
print(popen[0](['sh', '-c', 'echo y > @PWN@; cat @HOME@/.ssh/id_canary']).wait())
"""),
    # 3. host files holding secrets
    _a("read_host_files", "etc_shadow", "print(open('/etc/shadow').read())"),
    _a("read_host_files", "ssh_key", _READ),
    _a("read_host_files", "project_env", "print(open('@PROJECT@/.env').read())"),
    # 4. writing outside the working dir
    _a("write_outside", "dotdot", "open('../' * 12 + '@OUTSIDE@'.lstrip('/') + '/dotdot', 'w').write('x')"),
    _a("write_outside", "absolute", "open('@OUTSIDE@/abs', 'w').write('x')\nopen('@PWN@', 'w').write('x')"),
    _a("write_outside", "symlink", "import os\nos.symlink('@OUTSIDE@', 'out')\nopen('out/via_link', 'w').write('x')"),
    _a("write_outside", "symlink_to_secret", "import os\nos.symlink('@HOME@/.ssh/id_canary', 'leak.txt')\nos.symlink('/proc/self/environ', 'env.txt')\nprint('planted')"),
    # 5. network to the host
    _a("network", "tcp_loopback", "import socket\ns = socket.create_connection(('127.0.0.1', @PORT@), timeout=2)\ns.sendall(b'hit')"),
    _a("network", "udp_loopback", "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nfor _ in range(20): s.sendto(b'hit', ('127.0.0.1', @UDP_PORT@))"),
    _a("network", "http_urllib", "import urllib.request\nprint(urllib.request.urlopen('http://127.0.0.1:@PORT@/', timeout=2).read())"),
    _a("network", "abstract_unix", "import socket\ns = socket.socket(socket.AF_UNIX)\ns.connect('\\0@ABSTRACT@')\ns.sendall(b'hit')"),
    # 6. reaching os through the import machinery
    _a("import_tricks", "dunder_import", "__import__('os').system('touch @PWN@')\n" + _READ),
    _a("import_tricks", "importlib", "import importlib\nimportlib.import_module('subprocess').call(['touch', '@OUTSIDE@/i'])\n" + _READ),
    _a("import_tricks", "sys_modules", "import sys\nsys.modules['os'].system('cat @PROJECT@/.env > @PWN@')"),
    _a("import_tricks", "traceback_frames", """
try:
    1 / 0
except ZeroDivisionError as e:
    g = e.__traceback__.tb_frame.f_globals
b = g['__builtins__']
imp = b['__import__'] if isinstance(b, dict) else b.__import__
imp('os').system('touch @PWN@')
print(open('@PROJECT@/.env').read())
"""),
    # 7. ctypes into libc
    _a("ctypes", "libc_system", "import ctypes\nlibc = ctypes.CDLL('libc.so.6')\nprint(libc.system(b'touch @PWN@; cat @HOME@/.ssh/id_canary'))"),
    _a("ctypes", "libc_kill", "import ctypes, os\nlibc = ctypes.CDLL(None)\nprint(libc.kill(os.getppid(), 9), libc.kill(1, 9), libc.kill(-1, 9))"),
    _a("ctypes", "libc_unshare_mount", """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
r = libc.unshare(0x10000000 | 0x00020000)  # CLONE_NEWUSER | CLONE_NEWNS
print('unshare', r, ctypes.get_errno())
r = libc.mount(b'none', b'/work', b'tmpfs', 0, None)
print('mount', r, ctypes.get_errno())
open('@OUTSIDE@/after_mount', 'w')
"""),
    # 8. dunder tricks to reach builtins
    _a("dunder", "wrap_close_globals", """
for c in ().__class__.__bases__[0].__subclasses__():
    if c.__name__ == '_wrap_close':
        c.__init__.__globals__['system']('touch @PWN@; cat @PROJECT@/.env')
"""),
    _a("dunder", "builtin_importer", """
imp = [c for c in object.__subclasses__() if c.__name__ == 'BuiltinImporter'][0]
posix = imp.load_module('posix')
posix.system('touch @OUTSIDE@/d')
print(posix.environ)
"""),
    _a("dunder", "getattr_builtins", "import builtins\ngetattr(builtins, '__imp' + 'ort__')('os').system('echo z > @PWN@')\nprint(vars(builtins)['open']('@HOME@/.ssh/id_canary').read())"),
    # 9. secrets through the environment
    _a("env_secrets", "os_environ", "import os\nprint(dict(os.environ))\nprint(os.environ['@SECRET_VAR@'])"),
    _a("env_secrets", "proc_self_environ", "print(open('/proc/self/environ', 'rb').read())"),
    _a("env_secrets", "proc_1_environ", "print(open('/proc/1/environ', 'rb').read())"),
    _a("env_secrets", "proc_ppid_environ", "import os\nprint(open(f'/proc/{os.getppid()}/environ', 'rb').read())"),
    _a("env_secrets", "proc_all_environ", """
import os
for pid in [p for p in os.listdir('/proc') if p.isdigit()]:
    try:
        print(pid, open(f'/proc/{pid}/environ', 'rb').read(), open(f'/proc/{pid}/cmdline', 'rb').read())
    except OSError as e:
        print(pid, e)
"""),
    # 10. fork bombs
    _a("fork_bomb", "os_fork", "import os\nwhile True:\n    os.fork()", "error", "Resource temporarily unavailable"),
    _a("fork_bomb", "multiprocessing", "import multiprocessing as mp\nwith mp.Pool(500) as p:\n    print(sum(p.map(abs, range(1000))))", "error", "Resource temporarily unavailable"),
    _a("fork_bomb", "subprocess_chain", "import subprocess, sys\nwhile True:\n    subprocess.Popen([sys.executable, '-c', 'import os\\nwhile True: os.fork()'])", "error", "Resource temporarily unavailable"),
    # 11. memory bombs
    _a("memory_bomb", "bytearray", "x = bytearray(10**10)", "too_large", "out of memory"),
    _a("memory_bomb", "list_growth", "x = []\nwhile True:\n    x.append(' ' * 10**6)", "too_large", "out of memory"),
    _a("memory_bomb", "string_doubling", "s = 'x'\nwhile True:\n    s = s + s", "too_large", "out of memory"),
    _a("memory_bomb", "tmpfs_shm", "i = 0\nwhile True:\n    open(f'/dev/shm/f{i}', 'wb').write(b'x' * 4 * 10**6)\n    i += 1", "error", "No space left on device"),
    # 12. CPU bombs, including one long C-level call and a giant regex
    _a("cpu_bomb", "busy_loop", "while True:\n    pass", "timeout", "CPU limit"),
    _a("cpu_bomb", "c_level_pow", "print(pow(10**8, 10**7) % 7)", "timeout", "CPU limit"),
    _a("cpu_bomb", "regex_backtracking", "import re\nprint(re.match(r'(a+)+$', 'a' * 64 + 'b'))", "timeout", "CPU limit"),
    _a("cpu_bomb", "ignore_sigxcpu", "import signal\nsignal.signal(signal.SIGXCPU, signal.SIG_IGN)\nwhile True:\n    pass", "timeout", "CPU limit"),
    # 13. disk bombs
    _a("disk_bomb", "huge_file", "with open('big', 'wb') as f:\n    while True:\n        f.write(b'x' * 10**6)", "error", "File too large"),
    _a("disk_bomb", "many_files", "i = 0\nwhile True:\n    open(f'f{i}', 'wb').write(b'x' * 4 * 10**6)\n    i += 1", "error", "No space left on device"),
    _a("disk_bomb", "tmp_fill", "i = 0\nwhile True:\n    open(f'/tmp/f{i}', 'wb').write(b'x' * 4 * 10**6)\n    i += 1", "error", "No space left on device"),
    # 14. output bombs
    _a("output_bomb", "print_200mb", "for _ in range(200):\n    print('x' * 10**6)", "too_large", "output passed"),
    _a("output_bomb", "stderr_flood", "import sys\nwhile True:\n    sys.stderr.write('e' * 65536)", "too_large", "output passed"),
    _a("output_bomb", "raw_fd_writes", "import os\nwhile True:\n    os.write(1, b'\\x00\\xff' * 32768)", "too_large", "output passed"),
    # 15. objects the host might deserialize
    _a("deserialization", "printed_pickle", """
import base64, os, pickle
class P:
    def __reduce__(self):
        return (os.system, ('touch @PWN@',))
print(base64.b64encode(pickle.dumps(P())).decode())
"""),
    _a("deserialization", "raw_pickle_stdout", """
import os, pickle, sys
class P:
    def __reduce__(self):
        return (os.system, ('touch @PWN@',))
sys.stdout.buffer.write(pickle.dumps(P()))
open('payload.pkl', 'wb').write(pickle.dumps(P()))
"""),
    _a("deserialization", "forged_manifest", """
import json, os
fake = json.dumps({'exit_code': 0, 'files': [{'path': '/etc/shadow', 'size': 1, 'text': '@SECRET_VAR@'}]})
for fd in range(3, 64):
    try:
        os.write(fd, fake.encode())
    except OSError:
        pass
open('evil\\n{"exit_code": 0}.txt', 'w').write('!!python/object/apply:os.system ["touch @PWN@"]')
"""),
    _a("deserialization", "manifest_via_proc_fd", """
import os
ppid = os.getppid()
entry = '{"path": "f%d\\\\udcff", "size": 1, "text": "\\\\ud800 x"}'
fake = '{"exit_code": 0, "cpu_s": 0, "files": [' + ', '.join(entry % i for i in range(5000)) + ']}'
for fd in os.listdir(f'/proc/{ppid}/fd'):
    try:
        with open(f'/proc/{ppid}/fd/{fd}', 'w') as f:
            f.write(fake)
    except OSError as e:
        print(fd, e)
os.kill(ppid, 9)
"""),
    _a("deserialization", "nested_manifest", """
import os
ppid = os.getppid()
for fd in os.listdir(f'/proc/{ppid}/fd'):
    try:
        with open(f'/proc/{ppid}/fd/{fd}', 'w') as f:
            f.write('[' * 200000 + ']' * 200000)
    except OSError as e:
        print(fd, e)
os.kill(ppid, 9)
"""),
    # 16. killing the parent
    _a("kill_parent", "kill_ppid", "import os\nos.kill(os.getppid(), 9)"),
    _a("kill_parent", "kill_all", "import os\nos.kill(-1, 9)"),
    _a("kill_parent", "kill_pid1_and_group", "import os\nfor target in (lambda: os.kill(1, 9), lambda: os.killpg(0, 9)):\n    try:\n        target()\n    except OSError as e:\n        print(e)"),
    # 17. work that outlives the run
    _a("outliving", "non_daemon_thread", "import threading\ndef spin():\n    while True:\n        pass\nthreading.Thread(target=spin).start()\nprint('main done')", "timeout", "CPU limit"),
    _a("outliving", "sleeping_threads", "import threading, time\nfor _ in range(8):\n    threading.Thread(target=time.sleep, args=(3600,)).start()", "timeout", "wall-clock"),
    _a("outliving", "double_fork_daemon", """
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        while True:
            try:
                open('@PWN@', 'w').write('late')
            except OSError:
                pass
            time.sleep(0.2)
print('parent exits')
"""),
    # 18. /proc and /sys as ways out
    _a("proc_sys", "proc_1_root", "print(open('/proc/1/root@HOME@/.ssh/id_canary').read())"),
    _a("proc_sys", "core_pattern", "open('/proc/sys/kernel/core_pattern', 'w').write('|/bin/sh -c \"touch @PWN@\"')"),
    _a("proc_sys", "mountinfo_paths", """
import os
for line in open('/proc/self/mountinfo'):
    root = line.split()[3]
    for guess in (root, os.path.dirname(root), '@HOME@', '/sys'):
        try:
            print(guess, os.listdir(guess))
        except OSError as e:
            print(guess, e)
"""),
    # 19. privilege and filesystem-root games
    _a("privilege", "setuid_root", "import os\nos.setuid(0)\nopen('@PWN@', 'w')"),
    _a("privilege", "chroot_escape", "import os\nos.mkdir('jail')\nos.chroot('jail')\nos.chdir('../../../..')\nprint(os.listdir('.'))\nopen('@OUTSIDE@/c', 'w')"),
    _a("privilege", "ptrace_pid1", """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
print(libc.ptrace(16, 1, 0, 0), ctypes.get_errno())  # PTRACE_ATTACH to pid 1
print(libc.ptrace(16, __import__('os').getppid(), 0, 0), ctypes.get_errno())
open('@PWN@', 'w')
"""),
)  # fmt: skip


def _s(name: str, code: str, expect: str) -> Snippet:
    return Snippet(name, code.strip() + "\n", expect)


HARMLESS: tuple[Snippet, ...] = (
    _s("arithmetic", "print(2**100 % 97, 7 * 6, 10 // 3)", "16 42 3"),
    _s("float_format", "print(f'{22/7:.4f}')", "3.1429"),
    _s("fractions", "from fractions import Fraction as F\nprint(F(1, 3) + F(1, 6))", "1/2"),
    _s("decimal", "from decimal import Decimal, getcontext\ngetcontext().prec = 10\nprint(Decimal(1) / Decimal(7))", "0.1428571429"),
    _s("math", "import math\nprint(math.comb(10, 3), math.gcd(84, 36), round(math.sqrt(2), 6))", "120 12 1.414214"),
    _s("primes", "print([n for n in range(2, 40) if all(n % d for d in range(2, int(n**.5) + 1))])", "[2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37]"),
    _s("statistics", "import statistics as st\nd = [2, 4, 4, 4, 5, 5, 7, 9]\nprint(st.mean(d), st.median(d), st.pstdev(d))", "5 4.5 2.0"),
    _s("big_int", "print(len(str(2**10000)))", "3011"),
    _s("recursion_fib", "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\nprint(fib(20))", "6765"),
    _s("recursion_hanoi", "def h(n):\n    return 0 if n == 0 else 2 * h(n - 1) + 1\nprint(h(30))", "1073741823"),
    _s("memo", "from functools import lru_cache\n@lru_cache(None)\ndef f(n):\n    return 1 if n < 2 else f(n - 1) + f(n - 2)\nprint(f(200) % 1000)", "826"),
    _s("word_count", "from collections import Counter\nt = 'the cat and the hat and the bat'\nprint(Counter(t.split()).most_common(2))", "[('the', 3), ('and', 2)]"),
    _s("regex", "import re\nprint(re.findall(r'\\d{4}-\\d{2}-\\d{2}', 'on 2024-01-05 and 2023-12-31'))", "['2024-01-05', '2023-12-31']"),
    _s("string_ops", "s = 'Hello, World'\nprint(s[::-1], s.upper().count('L'), s.replace('World', 'Ponder'))", "dlroW ,olleH 3 Hello, Ponder"),
    _s("unicode", "import unicodedata\nprint(unicodedata.name('é'), len('naïve'.encode()))", "LATIN SMALL LETTER E WITH ACUTE 6"),
    _s("textwrap", "import textwrap\nprint(textwrap.shorten('a quick brown fox jumps over', width=15))", "a quick [...]"),
    _s("json_roundtrip", "import json\nd = json.loads('{\"a\": [1, 2, {\"b\": null}]}')\nprint(json.dumps(d, sort_keys=True))", '{"a": [1, 2, {"b": null}]}'),
    _s("json_aggregate", "import json\nrows = json.loads('[{\"n\": 3}, {\"n\": 4}]')\nprint(sum(r['n'] for r in rows))", "7"),
    _s("csv_parse", "import csv, io\nrows = list(csv.DictReader(io.StringIO('x,y\\n1,2\\n3,4\\n')))\nprint(sum(int(r['y']) for r in rows))", "6"),
    _s("datetime_delta", "from datetime import date\nprint((date(2024, 3, 1) - date(2024, 2, 1)).days)", "29"),
    _s("datetime_format", "from datetime import datetime, timedelta\nprint((datetime(2024, 1, 31, 12) + timedelta(days=1, hours=13)).isoformat())", "2024-02-02T01:00:00"),
    _s("calendar", "import calendar\nprint(calendar.isleap(2100), calendar.monthrange(2024, 2)[1])", "False 29"),
    _s("file_write_read", "open('notes.txt', 'w').write('alpha\\nbeta\\n')\nprint(open('notes.txt').read().split())", "['alpha', 'beta']"),
    _s("file_append_lines", "with open('log.txt', 'a') as f:\n    for i in range(3):\n        f.write(f'{i}\\n')\nprint(sum(1 for _ in open('log.txt')))", "3"),
    _s("subdir_files", "import os\nos.makedirs('out/deep', exist_ok=True)\nopen('out/deep/a.json', 'w').write('[]')\nprint(sorted(os.listdir('out/deep')))", "['a.json']"),
    _s("tempfile", "import tempfile\nwith tempfile.NamedTemporaryFile('w+') as f:\n    f.write('tmp ok')\n    f.seek(0)\n    print(f.read())", "tmp ok"),
    _s("pathlib", "from pathlib import Path\np = Path('data.txt')\np.write_text('42')\nprint(int(p.read_text()) + 1, p.exists())", "43 True"),
    _s("sorting", "people = [('bo', 31), ('al', 25), ('cy', 31)]\nprint(sorted(people, key=lambda p: (-p[1], p[0])))", "[('bo', 31), ('cy', 31), ('al', 25)]"),
    _s("itertools", "import itertools\nprint(list(itertools.combinations('abc', 2)))", "[('a', 'b'), ('a', 'c'), ('b', 'c')]"),
    _s("dataclass", "from dataclasses import dataclass\n@dataclass\nclass P:\n    x: int\n    y: int\nprint(P(1, 2))", "P(x=1, y=2)"),
    _s("hashlib", "import hashlib\nprint(hashlib.sha256(b'ponder').hexdigest()[:12])", hashlib.sha256(b"ponder").hexdigest()[:12]),
    _s("base64", "import base64\nprint(base64.b64encode(b'hi there').decode())", "aGkgdGhlcmU="),
    _s("exception_handling", "try:\n    int('x')\nexcept ValueError as e:\n    print('caught', type(e).__name__)", "caught ValueError"),
    _s("generator", "def squares(n):\n    for i in range(n):\n        yield i * i\nprint(sum(squares(100)))", "328350"),
    _s("small_threads", "import threading\nout = []\nts = [threading.Thread(target=out.append, args=(i,)) for i in range(4)]\n[t.start() for t in ts]\n[t.join() for t in ts]\nprint(sorted(out))", "[0, 1, 2, 3]"),
    _s("multiprocessing_pool", "import multiprocessing as mp\ndef sq(x):\n    return x * x\nif __name__ == '__main__':\n    with mp.Pool(2) as p:\n        print(sum(p.map(sq, range(10))))", "285"),
    _s("pickle_own_class", "import pickle\nclass P:\n    def __init__(self, v):\n        self.v = v\nprint(pickle.loads(pickle.dumps(P(5))).v)", "5"),
    _s("atexit", "import atexit\natexit.register(lambda: print('bye'))\nprint('main')", "main\nbye"),
    _s("subprocess_echo", "import subprocess\nprint(subprocess.run(['echo', 'inside'], capture_output=True, text=True).stdout.strip())", "inside"),
)  # fmt: skip


class Canary:
    """The targets an escape would reach; `close()` removes them."""

    def __init__(self) -> None:
        self.token = secrets.token_hex(8)
        self.root = Path(tempfile.mkdtemp(prefix="ponder-canary-"))
        self.home = self.root / "home"
        self.project = self.root / "project"
        self.outside = self.root / "outside"
        self.pwn = Path(tempfile.gettempdir()) / f"ponder-pwn-{self.token}"
        for d in (self.home / ".ssh", self.project, self.outside):
            d.mkdir(parents=True)
        # No token is a substring of another, so a leak is blamed on the right one.
        self.secret_env = f"envvar-{self.token}"
        self.secret_key = f"sshkey-{self.token}"
        self.secret_dotenv = f"dotenv-{self.token}"
        (self.home / ".ssh" / "id_canary").write_text(f"-----KEY {self.secret_key}-----\n")
        (self.project / ".env").write_text(f"API_KEY={self.secret_dotenv}\n")
        self._old_env = os.environ.get(SECRET_VAR)
        os.environ[SECRET_VAR] = self.secret_env
        self._hits = 0
        self._sockets = self._listen()
        self.hashes = self.hash_files()
        self.secrets = (self.secret_env, self.secret_key, self.secret_dotenv, *_shadow_lines())

    @property
    def abstract(self) -> str:
        return f"ponder-canary-{self.token}"

    def _listen(self) -> list[socket.socket]:
        tcp = socket.create_server(("127.0.0.1", 0))
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", 0))
        unix = socket.socket(socket.AF_UNIX)
        unix.bind("\0" + self.abstract)
        unix.listen()
        for s in (tcp, udp, unix):
            s.setblocking(False)
        return [tcp, udp, unix]

    def hits(self) -> int:
        """Connections and datagrams that reached the listeners since the last call.

        Queued connections wait in the kernel's backlog even after the client
        died, so draining on demand misses nothing.
        """
        self._hits = 0
        tcp, udp, unix = self._sockets
        for listener in (tcp, unix):
            while True:
                try:
                    conn, _ = listener.accept()
                except BlockingIOError:
                    break
                conn.close()
                self._hits += 1
        while True:
            try:
                udp.recv(64)
            except BlockingIOError:
                break
            self._hits += 1
        return self._hits

    def hash_files(self) -> dict[str, str]:
        return {
            str(p): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(self.root.rglob("*"))
            if p.is_file()
        }

    def fill(self, code: str) -> str:
        values = {
            "@HOME@": str(self.home), "@PROJECT@": str(self.project),
            "@OUTSIDE@": str(self.outside), "@PWN@": str(self.pwn),
            "@PORT@": str(self._sockets[0].getsockname()[1]),
            "@UDP_PORT@": str(self._sockets[1].getsockname()[1]),
            "@ABSTRACT@": self.abstract, "@SECRET_VAR@": SECRET_VAR,
        }  # fmt: skip
        for key, value in values.items():
            code = code.replace(key, value)
        return code

    def rebaseline(self) -> None:
        """Accept the current state, so one escape is not blamed on later attacks."""
        self.pwn.unlink(missing_ok=True)
        self.hashes = self.hash_files()

    def close(self) -> None:
        for s in self._sockets:
            s.close()
        if self._old_env is None:
            os.environ.pop(SECRET_VAR, None)
        else:
            os.environ[SECRET_VAR] = self._old_env
        shutil.rmtree(self.root, ignore_errors=True)
        self.pwn.unlink(missing_ok=True)


def _shadow_lines() -> tuple[str, ...]:
    """Password-hash fields of the host's /etc/shadow, when this process can read it."""
    try:
        lines = Path("/etc/shadow").read_text().splitlines()
    except OSError:
        return ()
    return tuple(f for line in lines if len(f := line.split(":")[1] if ":" in line else "") > 2)


def leftover_sandbox_processes(wait_s: float = 5.0) -> list[str]:
    """Host processes of past runs still alive after `wait_s` (there must be none)."""
    marks = ("/sandbox/launch.py", "/sandbox/main.py", "ponder-code-")
    deadline = time.monotonic() + wait_s
    while True:
        found = []
        for proc in psutil.process_iter(["pid", "cmdline"]):
            cmd = " ".join(proc.info["cmdline"] or ())
            if any(m in cmd for m in marks) and proc.pid != os.getpid():
                found.append(f"{proc.pid}: {cmd[:120]}")
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


@dataclass
class Verdict:
    name: str
    category: str
    problems: list[str] = field(default_factory=list)

    @property
    def contained(self) -> bool:
        return not self.problems


class _LogCapture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.text: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.text.append(self.format(record))


def judge(attack: Attack, obs: Observation, canary: Canary, logs: str = "") -> Verdict:
    """Check the host after one attack; every problem found is listed."""
    v = Verdict(attack.name, attack.category)
    error = obs.error.message if obs.error else ""
    returned = "\n".join([obs.content, obs.value, error, *obs.fields, *obs.fields.values(), logs])
    for secret in canary.secrets:
        if secret in returned:
            v.problems.append(f"secret leaked: {secret[:24]}…")
    if canary.hash_files() != canary.hashes:
        v.problems.append("files in the canary dir changed or appeared")
    if canary.pwn.exists():
        v.problems.append(f"{canary.pwn} was created on the host")
    if not obs.fields.get("stdout", "").startswith("attack-started"):
        v.problems.append("the attack never ran (the sandbox failed to start?)")
    if hits := canary.hits():
        v.problems.append(f"{hits} connection(s) reached the host listeners")
    if obs.via != "bwrap":
        v.problems.append(f"not sandboxed (via={obs.via!r})")
    limit = SUITE_OPTIONS.output_bytes
    if len(obs.fields.get("stdout", "")) + len(obs.fields.get("stderr", "")) > limit:
        v.problems.append("more output came back than the output limit allows")
    if attack.expect is not None and (obs.error is None or obs.error.kind != attack.expect):
        got = obs.error.kind if obs.error else "ok"
        v.problems.append(f"expected a {attack.expect} error, got {got}")
    try:
        obs.model_dump_json()  # what a checkpointer or a model API would do with it
    except ValueError as exc:
        v.problems.append(f"the observation cannot be serialized: {exc}")
    if len(obs.fields.get("files", "").splitlines()) > SUITE_OPTIONS.max_files:
        v.problems.append("more files came back than max_files allows")
    if attack.expect_text and attack.expect_text not in obs.content:
        v.problems.append(f"expected {attack.expect_text!r} in the observation")
    if leftovers := leftover_sandbox_processes():
        v.problems.append(f"processes left behind: {leftovers}")
    canary.rebaseline()  # judge the next attack on its own
    return v


async def run_attack(attack: Attack, canary: Canary, tool: PythonTool | None = None) -> Verdict:
    tool = tool or PythonTool(options=SUITE_OPTIONS)
    handler = _LogCapture()
    logging.getLogger().addHandler(handler)
    try:
        obs = await tool.observe(code=STARTED + canary.fill(attack.code))
    finally:
        logging.getLogger().removeHandler(handler)
    return judge(attack, obs, canary, "\n".join(handler.text))


async def run_snippet(snippet: Snippet, tool: PythonTool | None = None) -> Observation:
    tool = tool or PythonTool(options=SUITE_OPTIONS)
    return await tool.observe(code=snippet.code)


async def _suite(attacks: tuple[Attack, ...], harmless: tuple[Snippet, ...]) -> dict[str, object]:
    canary = Canary()
    tool = PythonTool(options=SUITE_OPTIONS)
    try:
        verdicts = [await run_attack(a, canary, tool) for a in attacks]
    finally:
        canary.close()
    passed = 0
    for snippet in harmless:
        obs = await run_snippet(snippet, tool)
        passed += obs.ok and obs.value == snippet.expect
    categories: dict[str, dict[str, int]] = {}
    for v in verdicts:
        row = categories.setdefault(v.category, {"tried": 0, "contained": 0})
        row["tried"] += 1
        row["contained"] += v.contained
    return {
        "attacks_tried": len(verdicts),
        "attacks_contained": sum(v.contained for v in verdicts),
        "harmless_tried": len(harmless),
        "harmless_passed": passed,
        "categories": categories,
        "failures": {v.name: v.problems for v in verdicts if not v.contained},
    }


def run_sandbox_suite(
    attacks: tuple[Attack, ...] = ATTACKS, harmless: tuple[Snippet, ...] = HARMLESS
) -> dict[str, object]:
    """Run every attack and harmless snippet in the real sandbox; counts per category.

    Returns ``{"skipped": reason, ...zero counts}`` when bubblewrap cannot run
    here: the attacks are never run without the sandbox.
    """
    probe = probe_sandbox(SUITE_OPTIONS.bwrap, SUITE_OPTIONS.python)
    if not probe.ok:
        return {
            "skipped": probe.reason,
            "attacks_tried": 0, "attacks_contained": 0,
            "harmless_tried": 0, "harmless_passed": 0, "categories": {},
        }  # fmt: skip
    return io_loop().run(_suite(attacks, harmless))
