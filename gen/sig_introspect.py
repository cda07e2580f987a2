"""Prints, as JSON, the signatures one CPython's asyncio gives the spec's items.

Run under each interpreter by gen/check_versions.py (so it must run on
Python 3.6: no f-strings with =, no walrus, no positional-only syntax):

    python3 gen/sig_introspect.py < items.json > sigs.json

stdin: {"items": [[id, owner, name, kind], ...]}. stdout:

    {"version": "3.8", "items": {id: ITEM}, "public": {owner: [names]}}

ITEM is {"exists": false}, or {"exists": true, "params": [P, ...]} for a
callable ({"exists": true, "params": null} for an attribute or where no
signature can be read, with "why"). P is [name, kind, default], kind one of
positional, var_positional, keyword, var_keyword (positional-only counts as
positional), default null for none or {"repr": ..., "literal": bool}.
"public" lists, per owner, the public callables CPython has, so that the
check can name those the spec does not describe.
"""

import asyncio
import asyncio.base_events
import asyncio.events
import asyncio.futures
import asyncio.protocols
import asyncio.subprocess
import asyncio.tasks
import asyncio.transports
import inspect
import json
import sys

KINDS = {
    inspect.Parameter.POSITIONAL_ONLY: "positional",
    inspect.Parameter.POSITIONAL_OR_KEYWORD: "positional",
    inspect.Parameter.VAR_POSITIONAL: "var_positional",
    inspect.Parameter.KEYWORD_ONLY: "keyword",
    inspect.Parameter.VAR_KEYWORD: "var_keyword",
}
LITERALS = (type(None), bool, int, float, str, bytes)


def attr(obj, name):
    return getattr(obj, name, None)


def loop_class():
    return attr(asyncio, "SelectorEventLoop") or asyncio.base_events.BaseEventLoop


def py_class(name):
    """The pure-Python Future/Task: their signatures can be read on every version."""
    mod = asyncio.futures if name == "Future" else asyncio.tasks
    return attr(mod, "_Py" + name) or attr(asyncio, name)


def transport_classes():
    names = ["BaseTransport", "ReadTransport", "WriteTransport", "Transport",
             "DatagramTransport", "SubprocessTransport"]
    return [attr(asyncio.transports, n) for n in names if attr(asyncio.transports, n)]


def protocol_classes():
    names = ["BaseProtocol", "Protocol", "BufferedProtocol", "DatagramProtocol",
             "SubprocessProtocol"]
    return [attr(asyncio.protocols, n) for n in names if attr(asyncio.protocols, n)]


# owner -> the classes whose methods are its items (searched in order);
# None: module functions of asyncio.
CLASSES = {
    "asyncio": None, "tasks": None, "streams": None,
    "loop": lambda: [loop_class()],
    "future": lambda: [py_class("Future")],
    "task": lambda: [py_class("Task")],
    "handle": lambda: [asyncio.Handle],
    "timer_handle": lambda: [asyncio.TimerHandle],
    "server": lambda: [attr(asyncio.base_events, "Server")],
    "transport": transport_classes,
    "protocol": protocol_classes,
    "policy": lambda: [asyncio.AbstractEventLoopPolicy],
    "lock": lambda: [asyncio.Lock],
    "event": lambda: [asyncio.Event],
    "condition": lambda: [asyncio.Condition],
    "semaphore": lambda: [asyncio.Semaphore],
    "bounded_semaphore": lambda: [asyncio.BoundedSemaphore],
    "barrier": lambda: [attr(asyncio, "Barrier")],
    "queue": lambda: [asyncio.Queue],
    "priority_queue": lambda: [asyncio.PriorityQueue],
    "lifo_queue": lambda: [asyncio.LifoQueue],
    "task_group": lambda: [attr(asyncio, "TaskGroup")],
    "timeout": lambda: [attr(asyncio, "Timeout")],
    "runner": lambda: [attr(asyncio, "Runner")],
    "stream_reader": lambda: [asyncio.StreamReader],
    "stream_reader_protocol": lambda: [asyncio.StreamReaderProtocol],
    "stream_writer": lambda: [asyncio.StreamWriter],
    "process": lambda: [asyncio.subprocess.Process],
}

# What an instance sets in __init__ (no class carries it): its signature is
# not read, its existence assumed.
INSTANCE_ATTRS = {
    "loop": ("slow_callback_duration",),
    "condition": ("acquire", "locked", "release"),   # bound from its lock
    "process": ("pid", "stdin", "stdout", "stderr"),
    "server": ("sockets",),                            # an attribute until 3.7's property
}

# The modules whose public functions are asyncio's module-level API.
MODULES = ("events", "tasks", "runners", "threads", "timeouts", "streams", "subprocess",
           "coroutines", "futures")


def encode_default(value):
    if value is inspect.Parameter.empty:
        return None
    literal = type(value) in LITERALS
    if isinstance(value, int) and not isinstance(value, bool):
        plain = int(value)
    elif literal and not isinstance(value, bytes):
        plain = value
    else:
        plain = None
    return {"repr": repr(value), "literal": literal, "value": plain}


def params_of(obj, drop_self):
    sig = inspect.signature(obj)
    out = []
    for i, p in enumerate(sig.parameters.values()):
        if drop_self and i == 0:
            continue
        out.append([p.name, KINDS[p.kind], encode_default(p.default)])
    return out


def find(owner, name, kind):
    """(found, object, drop_self)."""
    getter = CLASSES.get(owner, False)
    if getter is False:
        return False, None, False
    if getter is None:
        if hasattr(asyncio, name):
            return True, getattr(asyncio, name), False
        return False, None, False
    classes = [c for c in getter() if c is not None]
    if kind == "constructor":
        for cls in classes:
            if cls.__name__ == name:
                return True, cls, False
        return False, None, False
    for cls in classes:
        for klass in inspect.getmro(cls):
            if name in vars(klass):
                return True, vars(klass)[name], True
    if name in INSTANCE_ATTRS.get(owner, ()):
        return True, None, False
    return False, None, False


def describe(owner, name, kind):
    if CLASSES.get(owner, False) is False:
        return {"exists": None, "why": "owner not mapped"}
    found, obj, drop_self = find(owner, name, kind)
    if not found:
        return {"exists": False}
    if kind == "attribute" or obj is None or isinstance(obj, property):
        return {"exists": True, "params": None, "why": "attribute"}
    if isinstance(obj, (staticmethod, classmethod)):
        drop_self = isinstance(obj, classmethod)
        obj = obj.__func__
    if not callable(obj):
        return {"exists": True, "params": None, "why": "not callable"}
    try:
        return {"exists": True, "params": params_of(obj, drop_self)}
    except (TypeError, ValueError) as e:
        return {"exists": True, "params": None, "why": "no signature: %s" % e}


def public_functions():
    names = set()
    for mod_name in MODULES:
        mod = getattr(asyncio, mod_name, None)
        for n in getattr(mod, "__all__", ()):
            v = getattr(asyncio, n, None)
            if callable(v) and not inspect.isclass(v):
                names.add(n)
    return sorted(names)


def public(owner):
    """The public callables of an owner's classes; "module": asyncio's functions."""
    if owner == "module":
        return public_functions()
    getter = CLASSES.get(owner)
    if not getter:
        return []
    names = set()
    for cls in getter():
        if cls is None:
            continue
        for klass in inspect.getmro(cls):
            if klass is object:
                continue
            for n, v in vars(klass).items():
                if not n.startswith("_") and (callable(v) or isinstance(
                        v, (staticmethod, classmethod))):
                    names.add(n)
    return sorted(names)


def main():
    request = json.load(sys.stdin)
    out = {"version": "%d.%d.%d" % sys.version_info[:3], "items": {}, "public": {}}
    for item_id, owner, name, kind in request["items"]:
        out["items"][item_id] = describe(owner, name, kind)
    for owner in request.get("public", []):
        out["public"][owner] = public(owner)
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
