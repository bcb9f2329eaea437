"""The program's side of the split harness: run the program, then answer the tests' calls (standard library only).

This process runs in the program's own sandbox and is trusted with nothing: the program may rewrite every line of
it. It holds no secret and decides nothing; the tests' interpreter (tests_side.py) asks, and re-builds every answer
from plain data (wire.py), so all the program can do here is answer calls, as a correct program would.

argv: the descriptor the requests come in on, the one the answers go out on. Beside it: wire.py, program.py.
"""

import os
import sys
import types


def _load(folder):
    sys.path.insert(0, folder)
    import wire

    sys.path.remove(folder)
    return wire


class Server:
    def __init__(self, wire, program):
        self.wire, self.program, self.objects = wire, program, []

    def keep(self, value):
        self.objects.append(value)
        return len(self.objects) - 1

    def value(self, value):
        return self.wire.encode(value, self.keep)

    def argument(self, data):
        return self.wire.decode(data, self.objects.__getitem__)

    def names(self, names):
        found = {}
        for name in names:
            if name not in vars(self.program):
                continue
            value = vars(self.program)[name]
            if isinstance(value, types.ModuleType):
                found[name] = ["module", value.__name__]
            elif callable(value):
                found[name] = ["call"]
            else:
                found[name] = ["value", self.value(value)]
        return {"names": found}

    def call(self, target, args, kwargs):
        function = vars(self.program)[target] if isinstance(target, str) else self.objects[target]
        arguments = [self.argument(item) for item in args]
        keywords = {key: self.argument(item) for key, item in kwargs}
        return {"value": self.value(function(*arguments, **keywords))}

    def iterate(self, handle):
        return {"value": self.value(list(self.objects[handle]))}

    def answer(self, request):
        try:
            operation = request["op"]
            if operation == "names":
                return self.names(request["names"])
            if operation == "call":
                return self.call(request["target"], request["args"], request["kwargs"])
            if operation == "iter":
                return self.iterate(request["handle"])
            return {"raise": ["ValueError", "unknown request"]}
        except BaseException as error:  # noqa: BLE001 - the program's exception is the answer, whatever it is
            return {"raise": [type(error).__name__, str(error)[:500]]}


def main():
    folder = os.path.dirname(os.path.abspath(__file__))
    wire = _load(folder)
    wire.allow_long_integers()
    wire.add_site_packages()
    requests, answers = os.fdopen(int(sys.argv[1]), "rb"), os.fdopen(int(sys.argv[2]), "wb")
    program = types.ModuleType("__main__")
    program.__dict__["__builtins__"] = __builtins__
    program.__file__ = os.path.join(folder, "program.py")
    sys.modules["__main__"] = program
    with open(program.__file__) as handle:
        source = handle.read()
    try:
        exec(compile(source, "solution.py", "exec"), program.__dict__)
        loaded = {"loaded": True}
    except BaseException as error:  # noqa: BLE001 - told to the tests, which fail with it
        loaded = {"raise": [type(error).__name__, f"while loading the program: {error}"[:500]]}
    server = Server(wire, program)
    wire.send(answers, loaded)
    while True:
        request = wire.receive(requests)
        if request is None:
            break
        wire.send(answers, server.answer(request))


if __name__ == "__main__":
    main()
