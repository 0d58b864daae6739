"""moto_server, with moto's request-id rewrite confined to XML responses.

moto 5.2.5's BaseResponse._enrich_response (moto/core/responses.py) runs
    re.sub(r"(?<=<RequestId>).*(?=<\/RequestId>)", request_id, body)
over every response body, JSON ones included. A JSON response (SQS ReceiveMessage, Step
Functions GetExecutionHistory...) whose data holds the text <RequestId>...</RequestId> -
an AWS XML error quoted in a stage's answer, say - lost everything from the first
<RequestId> to the last </RequestId> and often stopped being JSON. Only moto's own XML
bodies need the rewrite (in XML, data is escaped as &lt;RequestId&gt; and never matches).

Then, unless GENNAKER_MOTO_FIXES=0, the speed and memory fixes of moto_fixes/, the durable
DynamoDB state of moto_persistence.py when GENNAKER_DATA_DIR names a data directory, and the
request log of moto_request_log.py when asked for (this file's directory is on sys.path
when it is run as a script).

Run as: python local/src/moto_server.py -H 127.0.0.1 -p PORT (moto_server's arguments).
"""
import re
import sys

from moto.core.responses import BaseResponse
from moto.utilities.aws_headers import gen_amzn_requestid_long

# The text of one element only: it cannot run across other tags or data.
_REQUEST_ID = re.compile(r"(?<=<RequestId>)[^<]*(?=</RequestId>)")


def _enrich_response(headers, body):
    if "status" in headers:
        headers["status"] = str(headers["status"])
    request_id = gen_amzn_requestid_long(headers)
    if isinstance(body, str) and body.lstrip().startswith("<"):
        body = _REQUEST_ID.sub(request_id, body)
    return headers, body


BaseResponse._enrich_response = staticmethod(_enrich_response)

if __name__ == "__main__":
    import moto_fixes
    import moto_persistence
    import moto_request_log

    if moto_fixes.enabled():
        moto_fixes.apply()
    moto_persistence.apply()
    moto_request_log.apply()

    from moto.server import main

    sys.exit(main())
