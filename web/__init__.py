"""The web page and its HTTP/JSON API (``motion-retrieval web``), a thin layer over the gRPC service.

It never opens Milvus or loads a model: every answer comes from the service through the Python client, with a
deadline on each call and the service's refusals passed through as HTTP statuses. The page (static/) is plain
HTML/CSS/JS served by the same app and draws each hit's preview joints on a canvas in the browser.

    config.py    WebConfig: where the service is, the token file, deadlines and upload limits
    service.py   the gRPC client the app holds (joints sent as joints) and the token file reader
    hits.py      one hit as the API's JSON (the search --json fields plus preview_url / clip_url)
    previews.py  a preview as compact JSON (int16 millimetres, base64)
    uploads.py   an uploaded BVH / npy / npz: bounded read, our readers, SMPL-22 joints to send
    errors.py    gRPC status -> HTTP status with the service's message
    app.py       the Starlette app: routes of the API and the static page
    cli.py       ``motion-retrieval web`` (uvicorn)
"""
