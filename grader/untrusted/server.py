"""The worker's request loop: load one student file, then answer the grader's requests.

Each request (``grader.wire.codec``) asks for one operation: ``load`` the
student's file as a module, ``call`` a function, ``getattr``/``setattr``,
``inspect`` an object, or compute a vector-Jacobian product (``vjp``).  Objects
that cannot cross the wire stay here and cross as handles.  Every reply is
plain data; an exception in the student's code is described, never raised, and
the forbidden-call watcher (``grader.untrusted.watcher``) reports what the
student's calls used.  Before and after every request the watcher checks that its
own hooks are still the ones it installed; if not, the reply is only
``{"tampered": what}`` and the grader fails the exercise (``Watcher.check``).
"""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
import types

from grader.untrusted import imports, output
from grader.untrusted.watcher import Watcher
from grader.wire import codec


class Server:
    """One worker's side of the wire: the student's module, the objects it handed out."""

    def __init__(self, sock):
        self.sock = sock
        self.objects: dict = {}
        self.ids: dict = {}
        self.module = None
        self.path = None
        self._decoder = self._decoding = None  # one decoder for the request's blob
        self.watcher = Watcher()

    # -- handles --------------------------------------------------------
    def keep(self, obj) -> codec.Handle:
        key = id(obj)
        if key not in self.ids:
            hid = len(self.objects) + 1
            self.objects[hid] = obj
            self.ids[key] = hid
        t = type(obj)
        return codec.Handle(self.ids[key], f"{t.__module__}.{t.__qualname__}")

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
            self._decoder, self._decoding = codec.Decoder(blob, self.resolve, self.place), blob
        return self._decoder.decode(v)

    def describe(self, e: BaseException, fn=None) -> dict:
        return error_record(e, self.path, fn)

    # -- operations -----------------------------------------------------
    def op_load(self, req, blob):
        path = req["path"]
        self.path = self.watcher.path = path
        base = os.path.basename(path)
        with open(path, "rb") as f:
            src = f.read()
        try:
            text = src.decode("utf-8")
        except UnicodeDecodeError as e:
            line = src[: e.start].count(b"\n") + 1
            return {
                "load_error": {
                    "kind": "encoding",
                    "file": base,
                    "line": line,
                    "message": f"byte 0x{src[e.start]:02x} is not valid UTF-8",
                }
            }
        try:
            code = compile(text, path, "exec")
        except SyntaxError as e:
            return {
                "load_error": {
                    "kind": "syntax",
                    "file": base,
                    "line": e.lineno,
                    "offset": e.offset,
                    "code": (e.text or "").strip()[:300],
                    "message": f"{type(e).__name__}: {e.msg}",
                }
            }
        try:  # a failure here must not stop the load: the static scan still applies
            self.watcher.setup(self.decode(req.get("forbidden"), blob), req["module"], text)
        except Exception:
            self.watcher.mode = None
        # what the file may import: the course's list (grader.untrusted.imports)
        imports.install(path, self.decode(req.get("allowed_imports"), blob))
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

    def op_call(self, req, blob):
        import torch

        seed_generators(req)  # first: a codec.Call among the arguments runs as they are read
        with filled_memory(bool(req.get("fill_uninitialised"))):  # off again even when a Call raises
            self.decode(req.get("before", []), blob)  # Calls to make before this one
            fn = self.decode(req["fn"], blob)
            args = self.decode(req.get("args", []), blob)
            kwargs = self.decode(req.get("kwargs", {}), blob)
            mode = req.get("grad", "enable")
            ctx = torch.no_grad() if mode == "no_grad" else torch.enable_grad()
            try:
                with self.watcher.watch(), ctx:
                    value = fn(*args, **kwargs)
            except BaseException as e:
                return self.watcher.report({"error": self.describe(e, fn)})
        out = {"value": value}
        if req.get("return_args"):
            out["args"] = args
            if kwargs:
                out["kwargs"] = kwargs
        if req.get("inspect"):  # True: the value; a handle or reference: that object
            info = self._info(value if req["inspect"] is True else self.decode(req["inspect"], blob))
            out.update(info if "error" in info else {"info": info["value"]})
        return self.watcher.report(out)

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
        return object_info(obj, self.keep, self.describe)

    def op_vjp(self, req, blob):
        import torch

        seed_generators(req)
        fn = self.decode(req["fn"], blob)
        args = list(self.decode(req.get("args", []), blob))
        kwargs = self.decode(req.get("kwargs", {}), blob)
        grad_output = self.decode(req.get("grad_output"), blob)
        several = req.get("grad_outputs") is not None  # one forward, a backward for each vector
        grad_outputs = self.decode(req["grad_outputs"], blob) if several else [grad_output]
        wrt = req.get("wrt", [])
        for i in wrt:  # a position among the arguments, or a keyword
            if isinstance(i, str):
                kwargs[i] = kwargs[i].detach().requires_grad_()
            else:
                args[i] = args[i].detach().requires_grad_()
        params = []
        if req.get("params") is not None:
            holder = self.decode(req["params"], blob)
            params = list(holder.named_parameters())
        try:
            with self.watcher.watch(), torch.enable_grad():
                value = fn(*args, **kwargs)
                inputs = [kwargs[i] if isinstance(i, str) else args[i] for i in wrt] + [p for _, p in params]
                every = vector_jacobian(value, inputs, grad_outputs)
        except BaseException as e:
            return self.watcher.report({"error": self.describe(e, fn)})
        n = len(wrt)
        if several:
            return self.watcher.report({"value": value, "grads": [grads[:n] for grads in every]})
        grads = every[0]
        return self.watcher.report(
            {"value": value, "grads": grads[:n], "param_grads": [[name, g] for (name, _), g in zip(params, grads[n:])]}
        )

    def serve(self):
        while True:
            try:
                req, blob = codec.recv(self.sock)
            except EOFError:
                return
            handler = getattr(self, "op_" + str(req.get("op")), None)
            tampered = self.watcher.check()  # before: a thread of the student's may have been at work
            try:
                reply = handler(req, blob) if handler else {"fatal": f"unknown op {req.get('op')!r}"}
            except BaseException as e:  # the worker's own failure, or a bad reference
                reply = {"error": self.describe(e)}
            # after: fail closed, whatever the call returned (the load ran the file's top-level code)
            tampered = tampered or self.watcher.check(full=req.get("op") == "load")
            if tampered:
                reply = {"tampered": tampered}
            self._decoder = self._decoding = None  # the request's blob is not kept
            output.flush()  # what was printed, within its cap (grader.untrusted.output)
            try:
                body, blobs = codec.pack(reply, self.keep)
            except BaseException as e:
                body, blobs = codec.pack({"error": self.describe(e)})
            codec.send(self.sock, body, blobs)


def seed_generators(req) -> None:
    """Seed torch's generators with the request's seed, if it has one."""
    import torch

    if "seed" in req:
        # torch.manual_seed would also queue a lazy seeding of every
        # accelerator, capturing a stack trace for each (over half of a
        # worker's time); seed the CPU generator, and CUDA's once it is up.
        seed = int(req["seed"])
        torch.default_generator.manual_seed(seed)
        if torch.cuda.is_initialized():
            torch.cuda.manual_seed_all(seed)


@contextlib.contextmanager
def filled_memory(on: bool):
    """While ``on``: torch fills the memory it allocates without initialising it (torch.empty,
    torch.Tensor(n), empty_like, ...) with nan (integers: their largest value), so that a tensor
    the student never filled reads the same in every run instead of whatever the allocator
    handed back.  Torch does this under ``torch.use_deterministic_algorithms(True)`` with
    ``torch.utils.deterministic.fill_uninitialized_memory`` (PyTorch 2.1 and later; an older torch
    is left as it is).  ``warn_only``: an operation with no deterministic implementation still
    runs (it would raise otherwise, on CUDA); both settings are put back as they were on the way
    out, whatever the call did, so no later request runs under them.  A request that times out
    ends its worker, and the settings with it."""
    import torch

    fill = getattr(torch.utils, "deterministic", None)
    if not on or not hasattr(fill, "fill_uninitialized_memory"):
        yield
        return
    was = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        fill.fill_uninitialized_memory,
    )
    torch.use_deterministic_algorithms(True, warn_only=True)
    fill.fill_uninitialized_memory = True
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(was[0], warn_only=was[1])
        fill.fill_uninitialized_memory = was[2]


def error_record(e: BaseException, path, fn=None) -> dict:
    """What went wrong, as plain data: type, message and, where the student's file is on
    the traceback, its line and code; for a TypeError, the called function's signature."""
    try:
        message = str(e)[:2000]
    except BaseException:
        message = "(the exception's message could not be shown)"
    d = {"type": type(e).__name__, "message": message}
    frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename == path]
    if frames:
        d["file"] = os.path.basename(path)
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


def object_info(obj, keep, describe) -> dict:
    """What the grader may know of ``obj``: its type, signature and, for a module, its
    parameters (as handles, through ``keep``), buffers and children."""
    import inspect

    import torch

    t = type(obj)
    info = {
        "type": f"{t.__module__}.{t.__qualname__}",
        "is_module": isinstance(obj, torch.nn.Module),
        "is_class": isinstance(obj, type),
        "callable": callable(obj),
    }
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
            info["params"] = [[n, p, keep(p)] for n, p in obj.named_parameters()]
            info["buffers"] = [[n, b] for n, b in obj.named_buffers()]
            info["children"] = [[n, f"{type(c).__module__}.{type(c).__qualname__}"] for n, c in obj.named_children()]
            info["training"] = bool(obj.training)
        except BaseException as e:
            return {"error": describe(e)}
    return {"value": info}


def vector_jacobian(value, inputs, grad_outputs) -> list:
    """For each vector of ``grad_outputs`` (None: ones), the gradients of ``value``
    with respect to ``inputs`` (None where one is unused), after one forward."""
    import torch

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
        every.append(list(torch.autograd.grad(root, inputs, allow_unused=True, retain_graph=k < len(grad_outputs) - 1)))
    return every
