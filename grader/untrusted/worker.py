"""The student side of the trust boundary.

``python -m grader.untrusted.worker FD`` starts a *zygote*: it imports torch once and
then waits on the control socket FD.  For every ``spawn`` request it forks a
fresh worker that closes every inherited descriptor, starts its own session,
sets its resource limits, sends its output to a capped file and then serves
requests on its own socket: load one student file, call a function, read an
attribute, compute a vector-Jacobian product.  Each reply is plain data
(see ``grader.transport.wire``); nothing here decides a grade, and this process never
imports the reference or the hidden suites.

When a worker ends, the zygote writes its exit status to the status socket
that the grader holds for it, so a crash is reported as what it was.
"""
from __future__ import annotations

import json
import os
import resource
import signal
import socket
import sys
import traceback
import types

from grader.untrusted import detector

from grader.transport import wire

_status_socks: dict = {}


# ---------------------------------------------------------------------------
# zygote

def _on_sigchld(signum, frame):
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        if os.WIFSIGNALED(status):
            msg = {"signal": os.WTERMSIG(status)}
        else:
            msg = {"exit": os.WEXITSTATUS(status)}
        _reaped(pid)
        s = _status_socks.pop(pid, None)
        if s is not None:
            try:
                s.sendall(json.dumps(msg).encode())
            except OSError:
                pass
            s.close()


_cgroups: list = []  # pids whose memory cgroup is still to be removed


def _reaped(pid: int) -> None:
    """A worker has ended: remove its memory cgroup (and any left by earlier ones
    whose processes were still being torn down)."""
    iso = sys.modules.get("grader.untrusted.isolation")
    if iso is None or not (iso._plan or {}).get("cgroup"):
        return
    _cgroups.append(pid)
    _cgroups[:] = [p for p in _cgroups if not iso.remove_cgroup(p)]


def _set_pdeathsig():
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def _preload() -> None:
    """Import here, once, what workers would otherwise each import lazily: the
    first torch.optim step pulls in torch._dynamo and sympy (seconds per
    worker).  For batch grading (``Zygote(preload=True)``); a single ``grade``
    would only wait longer for its first worker."""
    try:
        import inspect  # noqa: F401  (op_inspect)

        import torch

        torch.set_num_threads(1)
        m = torch.nn.Linear(3, 2)
        opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
        m(torch.ones(4, 3)).sum().backward()
        opt.step()
        opt.zero_grad()
    except Exception:
        pass


MADV_HUGEPAGE, MADV_COLLAPSE = 14, 25
HUGE = 1 << 21


def _huge_pages() -> None:
    """Back the zygote's anonymous memory (about 300 MB once torch is imported)
    with 2 MiB pages, where the kernel allows it (MADV_COLLAPSE, Linux 6.1+).
    A fork then copies one page-table entry per 2 MiB instead of 512 and an exit
    tears down as few: a worker's start and end cost about half as much CPU.
    Takes about half a second once; for zygotes that fork many workers."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        with open("/proc/self/maps") as f:
            regions = [line.split() for line in f]
    except (OSError, AttributeError):
        return
    for parts in regions:
        if parts[1] != "rw-p" or (len(parts) > 5 and parts[5] != "[heap]"):
            continue  # only private, writable, anonymous memory (and the heap)
        lo, hi = (int(x, 16) for x in parts[0].split("-"))
        start, end = (lo + HUGE - 1) & ~(HUGE - 1), hi & ~(HUGE - 1)
        if end > start and libc.madvise(start, end - start, MADV_HUGEPAGE) == 0:
            libc.madvise(start, end - start, MADV_COLLAPSE)  # refused where unsupported: no harm


def zygote(ctrl_fd: int) -> None:
    _set_pdeathsig()
    ctrl = socket.socket(fileno=ctrl_fd)
    import torch  # noqa: F401  (the point of the zygote: import it once)

    try:  # a meta tensor's first operation need not import torch._dynamo in every worker
        from grader.untrusted.startup import defer_dynamo

        defer_dynamo()
        if os.environ.get("GRADER_ZYGOTE_WARM_META"):
            from grader.untrusted.startup import warm_meta

            warm_meta()
    except Exception:
        pass
    try:  # what isolated workers must still see (Python, its libraries), computed once
        from grader.untrusted import isolation

        isolation.prepare()
        # reap the namespaces' init processes (and any orphan) when their worker ends
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except Exception:
        pass
    if os.environ.get("GRADER_ZYGOTE_PRELOAD"):
        _preload()
    if not os.environ.get("GRADER_NO_FREEZE"):
        # Everything imported so far is shared with the workers copy-on-write; keep the
        # garbage collector from touching (and so copying) all of it in every worker.
        import gc

        gc.collect()
        gc.freeze()
    if os.environ.get("GRADER_ZYGOTE_HUGEPAGES"):
        _huge_pages()
    signal.signal(signal.SIGCHLD, _on_sigchld)
    ctrl.sendall(json.dumps({"ready": True, "pid": os.getpid()}).encode())
    while True:
        try:
            data, _fds, _flags, _addr = socket.recv_fds(ctrl, 65536, 0)
        except InterruptedError:
            continue
        if not data:
            return
        req = json.loads(data)
        if req.get("op") == "preload":  # a long-lived zygote (the warm server's), asked while it is idle
            _preload()
            if not os.environ.get("GRADER_NO_FREEZE"):
                import gc

                gc.collect()
                gc.freeze()
            continue
        a, b = socket.socketpair()
        sa, sb = socket.socketpair()
        pid = _fork(req.get("limits") or {})
        if pid == 0:
            try:
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                for s in (ctrl, a, sa, sb, *_status_socks.values()):
                    s.detach()
                _status_socks.clear()
                keep = b.detach()
                _close_fds_except(keep)
                _child(socket.socket(fileno=keep), req)
            finally:
                os._exit(0)
        _status_socks[pid] = sb
        b.close()
        socket.send_fds(ctrl, [json.dumps({"pid": pid}).encode()], [a.fileno(), sa.fileno()])
        a.close()
        sa.close()


def _fork(lim: dict) -> int:
    iso = sys.modules.get("grader.untrusted.isolation")
    return iso.fork_worker(lim) if iso is not None else os.fork()


def _close_fds_except(keep: int) -> None:
    os.closerange(3, keep)
    os.closerange(keep + 1, 65536)


# ---------------------------------------------------------------------------
# one worker

def _host_pid() -> int:
    try:
        return int(os.readlink("/proc/self"))
    except (OSError, ValueError):
        return os.getpid()


def _limit(kind, value):
    try:
        soft, hard = resource.getrlimit(kind)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(kind, (value, value))
    except (ValueError, OSError):
        pass


def _vm_size() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _apply_limits(lim: dict) -> dict:
    """Session, output file, isolation (``grader.untrusted.isolation``) and resource limits;
    returns what isolation achieved."""
    os.setsid()
    _set_pdeathsig()
    workdir = lim["workdir"]
    os.chdir(workdir)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    out = os.open(os.path.join(workdir, "output.txt"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(null)
    os.close(out)
    vm = _vm_size()
    try:  # when memory runs out, the kernel's OOM killer takes student processes first
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("1000")
    except OSError:
        pass
    iso = {"mode": "none"}
    if lim.get("isolate"):
        from grader.untrusted import isolation

        try:
            iso = isolation.isolate(lim)
        except Exception as e:  # a step the machine refused in a way isolate() did not foresee
            iso = {"mode": "none", "reason": f"{type(e).__name__}: {e}"}
        if iso.get("mounts"):
            # the only writable folder: temporary files and caches (torch's too) go there
            import tempfile

            tempfile.tempdir = os.getcwd()
    _minimal_environment(os.getcwd())
    _limit(resource.RLIMIT_CORE, 0)
    _limit(resource.RLIMIT_CPU, int(lim.get("cpu_seconds", 300)))
    _limit(resource.RLIMIT_FSIZE, int(lim.get("output_bytes", 4 << 20)))
    _limit(resource.RLIMIT_NOFILE, int(lim.get("open_files", 256)))
    if iso.get("mode") in ("namespaces", "user-namespace") and lim.get("processes"):
        # RLIMIT_NPROC counts this worker's processes and threads only: as root it has a uid of
        # its own; otherwise the count is per user namespace (Linux 5.14 and later)
        _limit(resource.RLIMIT_NPROC, int(lim["processes"]))
    if lim.get("memory_bytes") and not lim.get("cuda"):
        _limit(resource.RLIMIT_AS, vm + int(lim["memory_bytes"]))
    return iso


# What a worker's environment keeps of the grader's (names, and name prefixes ending
# in "_"): locale, time zone, threads and the GPU.  Nothing else crosses: no course
# secret (GRADER_SEED_SECRET), no token, no PYTHONPATH naming the course's folder.
ENV_KEEP = ("LANG", "LANGUAGE", "LC_", "TZ", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
            "CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER", "NVIDIA_VISIBLE_DEVICES", "LD_LIBRARY_PATH",
            "PYTORCH_NVML_BASED_CUDA_CHECK",
            "PYTHONHASHSEED", "PYTHONIOENCODING")


def _env_kept(name: str) -> bool:
    return any(name == k or (k.endswith("_") and name.startswith(k)) for k in ENV_KEEP)


def _minimal_environment(here: str) -> None:
    """Replace the worker's environment by one built from ``ENV_KEEP``."""
    kept = {k: v for k, v in os.environ.items() if _env_kept(k)}
    os.environ.clear()
    os.environ.update(kept)
    os.environ.update(HOME=here, TMPDIR=here, USER="student", PATH="/usr/local/bin:/usr/bin:/bin",
                      TORCHINDUCTOR_CACHE_DIR=os.path.join(here, ".torch-cache"))


class _Blocker:
    """Keeps the grader's own packages out of reach of student imports."""

    blocked = ("reference", "solutions", "grader.suites", "grader.harness.plugin", "grader.harness.run")

    def find_spec(self, name, path=None, target=None):
        if any(name == b or name.startswith(b + ".") for b in self.blocked):
            raise ImportError(f"{name} is not available to submissions")
        return None


class _Server:
    def __init__(self, sock):
        self.sock = sock
        self.objects: dict = {}
        self.ids: dict = {}
        self.module = None
        self.path = None
        self._decoder = self._decoding = None  # one decoder for the request's blob

    # -- handles --------------------------------------------------------
    def keep(self, obj) -> wire.Handle:
        key = id(obj)
        if key not in self.ids:
            hid = len(self.objects) + 1
            self.objects[hid] = obj
            self.ids[key] = hid
        t = type(obj)
        return wire.Handle(self.ids[key], f"{t.__module__}.{t.__qualname__}")

    def resolve(self, v):
        import torch

        if "$handle" in v:
            return self.objects[v["$handle"]]
        parts = list(v["$ref"])
        root = parts.pop(0)
        if root == "student":
            obj = self.module
        elif root == "torch":
            obj = torch
        elif root == "handle":
            obj = self.objects[parts.pop(0)]
        else:
            raise ValueError(f"unknown root {root!r}")
        for name in parts:
            obj = getattr(obj, name)
        return obj

    def place(self, t, meta: dict):
        dev = meta.get("device", "cpu")
        if dev != "cpu":
            t = t.to(dev)
        if meta.get("requires_grad"):
            t = t.requires_grad_()
        return t

    def decode(self, v, blob):
        if self._decoding is not blob:
            self._decoder, self._decoding = wire.Decoder(blob, self.resolve, self.place), blob
        return self._decoder.decode(v)

    # -- errors ---------------------------------------------------------
    def describe(self, e: BaseException, fn=None) -> dict:
        try:
            message = str(e)[:2000]
        except BaseException:
            message = "(the exception's message could not be shown)"
        d = {"type": type(e).__name__, "message": message}
        frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename == self.path]
        if frames:
            d["file"] = os.path.basename(self.path)
            d["line"] = frames[-1].lineno
            d["code"] = (frames[-1].line or "").strip()[:300]
            d["frames"] = [[f.name, f.lineno, (f.line or "").strip()[:200]] for f in frames[-5:]]
        if isinstance(e, TypeError) and fn is not None:
            try:
                import inspect

                d["signature"] = getattr(fn, "__name__", "") + str(inspect.signature(fn))
            except (TypeError, ValueError):
                pass
        return d

    # -- operations -----------------------------------------------------
    def op_load(self, req, blob):
        path = req["path"]
        self.path = path
        base = os.path.basename(path)
        with open(path, "rb") as f:
            src = f.read()
        try:
            text = src.decode("utf-8")
        except UnicodeDecodeError as e:
            line = src[: e.start].count(b"\n") + 1
            return {"load_error": {"kind": "encoding", "file": base, "line": line,
                                   "message": f"byte 0x{src[e.start]:02x} is not valid UTF-8"}}
        try:
            code = compile(text, path, "exec")
        except SyntaxError as e:
            return {"load_error": {"kind": "syntax", "file": base, "line": e.lineno,
                                   "offset": e.offset, "code": (e.text or "").strip()[:300],
                                   "message": f"{type(e).__name__}: {e.msg}"}}
        try:  # a failure here must not stop the load: the static scan still applies
            self._forbid_setup(self.decode(req.get("forbidden"), blob), req["module"], text)
        except Exception:
            self._forbid_mode = None
        mod = types.ModuleType(req["module"])
        mod.__file__ = path
        sys.modules[req["module"]] = mod
        try:
            exec(code, mod.__dict__)
        except BaseException as e:
            d = self.describe(e)
            d["kind"] = "import"
            d.setdefault("file", base)
            return {"load_error": d}
        self.module = mod
        names = {}
        for k, v in list(vars(mod).items()):
            if not k.startswith("_"):
                names[k] = type(v).__name__
        return {"names": names}

    def _seed(self, req):
        import torch

        if "seed" in req:
            # torch.manual_seed would also queue a lazy seeding of every
            # accelerator, capturing a stack trace for each (over half of a
            # worker's time); seed the CPU generator, and CUDA's once it is up.
            seed = int(req["seed"])
            torch.default_generator.manual_seed(seed)
            if torch.cuda.is_initialized():
                torch.cuda.manual_seed_all(seed)

    def op_call(self, req, blob):
        import torch

        self._seed(req)  # first: a wire.Call among the arguments runs as they are read
        self.decode(req.get("before", []), blob)  # Calls to make before this one
        fn = self.decode(req["fn"], blob)
        args = self.decode(req.get("args", []), blob)
        kwargs = self.decode(req.get("kwargs", {}), blob)
        mode = req.get("grad", "enable")
        ctx = torch.no_grad() if mode == "no_grad" else torch.enable_grad()
        try:
            with self._forbid_watch(), ctx:
                value = fn(*args, **kwargs)
        except BaseException as e:
            return self._forbid_reply({"error": self.describe(e, fn)})
        out = {"value": value}
        if req.get("return_args"):
            out["args"] = args
        if req.get("inspect"):  # True: the value; a handle or reference: that object
            info = self._info(value if req["inspect"] is True else self.decode(req["inspect"], blob))
            out.update(info if "error" in info else {"info": info["value"]})
        return self._forbid_reply(out)

    def op_getattr(self, req, blob):
        obj = self.decode(req["obj"], blob)
        try:
            return {"value": getattr(obj, req["name"])}
        except BaseException as e:
            return {"error": self.describe(e)}

    def op_setattr(self, req, blob):
        obj = self.decode(req["obj"], blob)
        value = self.decode(req["value"], blob)
        try:
            setattr(obj, req["name"], value)
        except BaseException as e:
            return {"error": self.describe(e)}
        return {"value": None}

    def op_inspect(self, req, blob):
        return self._info(self.decode(req["obj"], blob))

    def _info(self, obj) -> dict:
        import inspect

        import torch

        t = type(obj)
        info = {"type": f"{t.__module__}.{t.__qualname__}", "is_module": isinstance(obj, torch.nn.Module),
                "is_class": isinstance(obj, type), "callable": callable(obj)}
        if isinstance(obj, type):
            info["is_function"] = issubclass(obj, torch.autograd.Function)
            info["is_module_class"] = issubclass(obj, torch.nn.Module)
            info["bases"] = [f"{b.__module__}.{b.__qualname__}" for b in obj.__mro__[1:]]
        if callable(obj):
            try:
                info["signature"] = str(inspect.signature(obj))
            except (TypeError, ValueError):
                pass
        if isinstance(obj, torch.nn.Module):
            try:
                info["params"] = [[n, p, self.keep(p)] for n, p in obj.named_parameters()]
                info["buffers"] = [[n, b] for n, b in obj.named_buffers()]
                info["children"] = [[n, f"{type(c).__module__}.{type(c).__qualname__}"]
                                    for n, c in obj.named_children()]
                info["training"] = bool(obj.training)
            except BaseException as e:
                return {"error": self.describe(e)}
        return {"value": info}

    def op_vjp(self, req, blob):
        import torch

        self._seed(req)
        fn = self.decode(req["fn"], blob)
        args = list(self.decode(req.get("args", []), blob))
        kwargs = self.decode(req.get("kwargs", {}), blob)
        grad_output = self.decode(req.get("grad_output"), blob)
        several = req.get("grad_outputs") is not None  # one forward, a backward for each vector
        grad_outputs = self.decode(req["grad_outputs"], blob) if several else [grad_output]
        wrt = req.get("wrt", [])
        for i in wrt:
            args[i] = args[i].detach().requires_grad_()
        params = []
        if req.get("params") is not None:
            holder = self.decode(req["params"], blob)
            params = list(holder.named_parameters())
        try:
            with self._forbid_watch(), torch.enable_grad():
                value = fn(*args, **kwargs)
                inputs = [args[i] for i in wrt] + [p for _, p in params]
                if not isinstance(value, torch.Tensor):
                    raise TypeError(f"expected a tensor output, got {type(value).__name__}")
                every = []
                for k, go in enumerate(grad_outputs):
                    if not value.requires_grad:
                        every.append([None] * len(inputs))
                        continue
                    # d/dx sum(out * g) is the vector-Jacobian product g^T J; a scalar
                    # root avoids autograd's grad_outputs path (which imports sympy).
                    go = go if go is not None else torch.ones_like(value)
                    root = (value * go.to(dtype=value.dtype, device=value.device)).sum()
                    every.append(list(torch.autograd.grad(root, inputs, allow_unused=True,
                                                          retain_graph=k < len(grad_outputs) - 1)))
        except BaseException as e:
            return self._forbid_reply({"error": self.describe(e, fn)})
        n = len(wrt)
        if several:
            return self._forbid_reply({"value": value, "grads": [grads[:n] for grads in every]})
        grads = every[0]
        return self._forbid_reply({"value": value, "grads": grads[:n],
                                   "param_grads": [[name, g] for (name, _), g in zip(params, grads[n:])]})

    # -- forbidden built-ins (grader.verdicts.forbidden decides; this only reports) ------
    _forbid_on = False
    _forbid_nested = False
    _forbid_mode = None
    _forbid_found: list = []

    def _forbid_setup(self, spec, module_name, text) -> None:
        """Watch for the exercise's forbidden calls: a TorchFunctionMode for torch
        functions and Tensor methods (entered only around the student's calls),
        recorders in the __init__ of forbidden classes, wrappers for the rest."""
        if not isinstance(spec, dict):
            return
        import ast
        import functools
        import importlib

        import torch
        from torch.overrides import TorchFunctionMode

        self._forbid_module = module_name
        self._forbid_within = spec.get("within") or None
        try:
            self._forbid_class_lines = {n.name: n.lineno for n in ast.walk(ast.parse(text))
                                        if isinstance(n, ast.ClassDef)}
        except (SyntaxError, ValueError, RecursionError, MemoryError):  # too deep to parse: no fallback lines
            self._forbid_class_lines = {}
        server = self

        def resolve(dotted):
            parts = dotted.split(".")
            obj = importlib.import_module(parts[0])
            for i, name in enumerate(parts[1:], 1):
                try:
                    obj = getattr(obj, name)
                except AttributeError:
                    obj = importlib.import_module(".".join(parts[: i + 1]))
            return obj

        names = frozenset(spec.get("calls") or ())
        if names:
            display = self._forbid_display

            class _Watch(TorchFunctionMode):
                def __torch_function__(self, func, types, args=(), kwargs=None):
                    if getattr(func, "__name__", None) in names:
                        server._forbid_note(display(func))
                    return func(*args, **(kwargs or {}))

            self._forbid_mode = _Watch()
        if spec.get("aten"):  # below Python: what the mode cannot see (grader.untrusted.detector)
            self._forbid_lib = detector.block(
                spec["aten"], lambda shown: server._forbid_found or server._forbid_note(shown),
                str(spec.get("reason") or ""))

        classes, bases = [], []
        for dotted in spec.get("classes") or ():
            try:
                classes.append(resolve(dotted))
            except (ImportError, AttributeError):
                pass
        for dotted in spec.get("subclasses_of") or ():
            try:
                bases.append(resolve(dotted))
            except (ImportError, AttributeError):
                pass
        self._forbid_classes, self._forbid_bases = tuple(classes), tuple(bases)
        for cls in (*classes, *bases):
            orig = cls.__dict__.get("__init__")
            if orig is None:
                continue

            def make(orig):
                @functools.wraps(orig)
                def __init__(obj, *a, **k):
                    if server._forbid_on:
                        server._forbid_object(obj)
                    return orig(obj, *a, **k)
                return __init__

            cls.__init__ = make(orig)

        for dotted in spec.get("wrap") or ():
            try:
                parent_name, attr = dotted.rsplit(".", 1)
                parent = resolve(parent_name)
                orig = getattr(parent, attr)
            except (ImportError, AttributeError, ValueError):
                continue

            def wrap(orig, shown):
                @functools.wraps(orig)
                def wrapper(*a, **k):
                    # report the outermost call (Tensor.backward, not the
                    # torch.autograd.backward it calls in turn)
                    if server._forbid_on and not server._forbid_nested and server._forbid_note(shown):
                        server._forbid_nested = True
                        try:
                            return orig(*a, **k)
                        finally:
                            server._forbid_nested = False
                    return orig(*a, **k)
                del wrapper.__wrapped__  # no way back to the unwatched function through the wrapper
                return wrapper

            setattr(parent, attr, wrap(orig, dotted))

    @staticmethod
    def _forbid_display(func) -> str:
        name = getattr(func, "__name__", "?")
        owner = getattr(func, "__objclass__", None)
        if owner is not None:
            return f"Tensor.{name}"
        mod = getattr(func, "__module__", None) or ""
        if mod == "torch._tensor":
            return "torch." + getattr(func, "__qualname__", name)
        if mod in ("torch", "torch._C._VariableFunctions"):
            return f"torch.{name}"
        if mod in ("torch._C._nn", "torch.nn.functional"):
            return "torch.nn.functional." + name.lstrip("_")
        if mod == "torch._C._special":
            return "torch.special." + name.removeprefix("special_")
        return f"{mod}.{name}" if mod else name

    def _forbid_object(self, obj) -> None:
        t = type(obj)
        hit = None
        for c in t.__mro__:
            if c in self._forbid_classes or any(
                    c is not b and issubclass(c, b) and c.__module__.startswith("torch.")
                    for b in self._forbid_bases):
                hit = c
                break
        if hit is None:
            return
        mod = hit.__module__
        if mod.startswith("torch.nn.modules"):
            mod = "torch.nn"
        elif mod.startswith("torch.optim"):
            mod = "torch.optim"
        fallback = None
        if t.__module__ == self._forbid_module:  # a class of the student's file inherits it
            fallback = self._forbid_class_lines.get(t.__name__)
        self._forbid_note(f"{mod}.{hit.__qualname__}", fallback)

    def _forbid_note(self, call: str, fallback_line=None) -> bool:
        """Record ``call`` if a frame of the student's file (inside ``within``,
        when set) is on the stack: the grader's own torch calls don't count."""
        if not self._forbid_on or len(self._forbid_found) >= 10:
            return False
        within = self._forbid_within
        f = sys._getframe(1)
        line = None
        while f is not None:
            if f.f_code.co_filename == self.path:
                if line is None:
                    line = f.f_lineno
                if within is None or detector.runs_as(f, within):
                    break
            f = f.f_back
        if f is None:
            if fallback_line is None or within is not None:
                return False
            line = fallback_line
        if any(r["line"] == line and r["call"] == call for r in self._forbid_found):
            return True
        try:
            import linecache

            code = linecache.getline(self.path, line).strip()[:300]
        except Exception:
            code = ""
        self._forbid_found.append({"call": call, "file": os.path.basename(self.path), "line": line,
                                   "code": code})
        return True

    def _forbid_watch(self):
        self._forbid_found = []
        return _Watching(self)

    def _forbid_reply(self, reply: dict) -> dict:
        if self._forbid_found:
            reply["forbidden"] = list(self._forbid_found)
            self._forbid_found = []
        return reply

    def serve(self):
        while True:
            try:
                req, blob = wire.recv(self.sock)
            except EOFError:
                return
            handler = getattr(self, "op_" + str(req.get("op")), None)
            try:
                reply = handler(req, blob) if handler else {"fatal": f"unknown op {req.get('op')!r}"}
            except BaseException as e:  # the worker's own failure, or a bad reference
                reply = {"error": self.describe(e)}
            self._decoder = self._decoding = None  # the request's blob is not kept
            try:
                body, blobs = wire.pack(reply, self.keep)
            except BaseException as e:
                body, blobs = wire.pack({"error": self.describe(e)})
            wire.send(self.sock, body, blobs)


class _Watching:
    """Around a student's call: the forbidden-call watch on (and its
    TorchFunctionMode entered, if the exercise has one), off again after."""

    __slots__ = ("server", "mode")

    def __init__(self, server: _Server):
        self.server = server
        self.mode = server._forbid_mode

    def __enter__(self):
        if self.mode is not None:
            self.mode.__enter__()
        self.server._forbid_on = True
        return self

    def __exit__(self, *exc):
        self.server._forbid_on = False
        if self.mode is not None:
            self.mode.__exit__(*exc)
        return False


def _child(sock, req) -> None:
    me = os.getpid() if os.getpid() != 1 else _host_pid()  # the pid the zygote reported
    iso = _apply_limits(req["limits"])
    import torch

    torch.set_num_threads(1)
    sys.meta_path.insert(0, _Blocker())
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(wire.__file__))))
    if os.path.isfile(os.path.join(root, "pyproject.toml")):  # a checkout; never site-packages
        sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != root]
    sys.path.insert(0, req["limits"]["workdir"])
    wire.send(sock, *wire.pack({"hello": me, "isolation": iso}))
    _Server(sock).serve()


if __name__ == "__main__":
    zygote(int(sys.argv[1]))
