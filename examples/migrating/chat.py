"""A chat server written against python-socketio's documented AsyncServer API.

Only the import differs from a python-socketio application; with ``import socketio``
instead it runs on python-socketio unchanged (the tests run it both ways).

    uvicorn examples.migrating.chat:app --port 8000
"""

import plexio.compat.socketio as socketio  # was: import socketio

sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins="*")
app = socketio.ASGIApp(sio)


@sio.event
async def connect(sid, environ, auth):
    if not auth or not auth.get("name"):
        raise socketio.exceptions.ConnectionRefusedError("who are you?", {"need": "name"})
    await sio.save_session(sid, {"name": auth["name"], "room": "lobby"})
    await sio.enter_room(sid, "lobby")
    await sio.emit("welcome", {"name": auth["name"], "sid": sid}, to=sid)
    await sio.emit("joined", auth["name"], room="lobby", skip_sid=sid)


@sio.event
async def say(sid, text):
    session = await sio.get_session(sid)
    await sio.emit("said", {"name": session["name"], "text": text}, room=session["room"])
    return "ok", len(text)


@sio.event
async def move(sid, room):
    async with sio.session(sid) as session:
        await sio.leave_room(sid, session["room"])
        session["room"] = room
    await sio.enter_room(sid, room)
    return sio.rooms(sid)


@sio.on("ask")
async def ask(sid, question):
    # asks the client back and returns its answer
    answer = await sio.call("question", question, to=sid, timeout=5)
    return {"client said": answer}


@sio.on("*")
async def anything(event, sid, *args):
    await sio.emit("unknown", {"event": event, "args": list(args)}, to=sid)


@sio.event
async def disconnect(sid, reason):
    session = await sio.get_session(sid)
    await sio.emit("left", session.get("name"), room=session.get("room", "lobby"))


class Admin(socketio.AsyncNamespace):
    """Class-based namespace: on_<event> methods are the handlers."""

    async def on_connect(self, sid, environ, auth):
        if (auth or {}).get("token") != "secret":
            return False  # refused

    async def on_announce(self, sid, text):
        await sio.emit("announcement", text)  # to everyone on "/"
        return "sent"

    async def on_kick(self, sid, target_sid):
        await sio.disconnect(target_sid)  # from "/"
        return "kicked"


sio.register_namespace(Admin("/admin"))
