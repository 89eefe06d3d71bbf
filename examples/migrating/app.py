"""The classic python-socketio demo server, written from its documented API.

Events: ``my_event`` (echo to the sender), ``my_broadcast_event`` (to everyone),
``join`` / ``leave`` / ``close_room`` / ``my_room_event`` (rooms), ``disconnect_request``,
``my_ping`` (acknowledged), and a background task counting while clients are connected.
Only the import differs from a python-socketio application.

    uvicorn examples.migrating.app:app --port 8000
"""

import plexio.compat.socketio as socketio  # was: import socketio

sio = socketio.AsyncServer(async_mode="asgi")
app = socketio.ASGIApp(sio, static_files={"/": "examples/migrating/index.html"})
background_task_started = False


async def background_task():
    """Example of how to send server generated events to clients."""
    count = 0
    while True:
        await sio.sleep(0.2)
        count += 1
        await sio.emit("my_response", {"data": "Server generated event", "count": count})


@sio.event
async def my_event(sid, message):
    await sio.emit("my_response", {"data": message["data"]}, room=sid)


@sio.event
async def my_broadcast_event(sid, message):
    await sio.emit("my_response", {"data": message["data"]})


@sio.event
async def join(sid, message):
    await sio.enter_room(sid, message["room"])
    await sio.emit("my_response", {"data": "Entered room: " + message["room"]}, room=sid)


@sio.event
async def leave(sid, message):
    await sio.leave_room(sid, message["room"])
    await sio.emit("my_response", {"data": "Left room: " + message["room"]}, room=sid)


@sio.event
async def close_room(sid, message):
    await sio.emit(
        "my_response",
        {"data": "Room " + message["room"] + " is closing."},
        room=message["room"],
    )
    await sio.close_room(message["room"])


@sio.event
async def my_room_event(sid, message):
    await sio.emit("my_response", {"data": message["data"]}, room=message["room"])


@sio.event
async def disconnect_request(sid):
    await sio.disconnect(sid)


@sio.event
async def my_ping(sid):
    return "pong"


@sio.event
async def connect(sid, environ):
    global background_task_started
    if not background_task_started:
        sio.start_background_task(background_task)
        background_task_started = True
    await sio.emit("my_response", {"data": "Connected", "count": 0}, room=sid)


@sio.event
def disconnect(sid):
    print("Client disconnected", sid)
