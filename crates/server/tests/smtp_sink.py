"""A real SMTP server for the tests: aiosmtpd on 127.0.0.1:PORT, writing every mail it
accepts to DIR/NNNN.eml. Prints READY once listening.

    python smtp_sink.py PORT DIR [--drop | --reject]

With --drop it vanishes mid-send: the connection is closed when the client sends DATA,
so nothing is accepted. With --reject it refuses every recipient for good (550).
"""

import asyncio
import pathlib
import sys

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, directory, drop):
        self.directory = pathlib.Path(directory)
        self.drop = drop
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        name = self.directory / f"{self.count:04d}.eml"
        tmp = name.with_suffix(".tmp")
        tmp.write_bytes(envelope.original_content or envelope.content)
        tmp.rename(name)
        return "250 Message accepted for delivery"


class Rejecting:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        return "550 5.1.1 No such mailbox here"


class Dropping:
    async def handle_DATA(self, server, session, envelope):
        server.transport.close()
        return "421 gone"


def main():
    port = int(sys.argv[1])
    directory = sys.argv[2]
    drop = "--drop" in sys.argv[3:]
    pathlib.Path(directory).mkdir(parents=True, exist_ok=True)
    if "--reject" in sys.argv[3:]:
        handler = Rejecting()
    elif drop:
        handler = Dropping()
    else:
        handler = Sink(directory, drop)
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    print("READY", flush=True)
    try:
        asyncio.run(asyncio.Event().wait())
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
