"""`python serve_toybank.py --listen 127.0.0.1:0`: the toy bank as a real process."""

from refresco_connector import serve
from toybank import ToyBank

if __name__ == "__main__":
    serve(ToyBank())
