"""Routes requests to the other agents."""
import zmq

ctx = zmq.Context()
front = ctx.socket(zmq.ROUTER)
front.bind("tcp://127.0.0.1:26002")
tts = ctx.socket(zmq.DEALER)
tts.connect("tcp://streaming_tts:5562")


@app.get("/ping")
def ping():
    return "pong"


def serve():
    while True:
        front.recv_multipart()
