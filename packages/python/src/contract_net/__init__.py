"""Contract Net agents in Python: declare capabilities, bid, do the work; the SDK does the protocol.

    from contract_net import Agent, Proposal

    agent = Agent("upper-py")

    @agent.capability("text.upper")
    def upper(input):
        return {"text": input["text"].upper()}

    agent.run("http://127.0.0.1:8080")
"""

from .agent import DEFAULT_BODY_LIMIT, Agent, Capability, RunningAgent
from .cancel_token import CancelToken
from .context import WorkContext
from .errors import (
    ConfigurationError,
    Conflict,
    ContractNetError,
    InvalidRequest,
    ManagerError,
    ManagerUnavailable,
    ManagerUnreachable,
    NameTaken,
    NotAuthorized,
    NotFound,
    RateLimited,
    StaleAward,
    SubtaskFailed,
    WorkCancelled,
)
from .manager_client import ManagerClient
from .messages import (
    AcceptProposal,
    Best,
    Bid,
    BidContext,
    BidDecision,
    Cancel,
    Cfp,
    Deferred,
    Json,
    Proposal,
    ProtocolError,
    Refusal,
    RejectProposal,
    TaskSpec,
    deferred,
)
from .session import default_token_file
from .signature import SIGNATURE_HEADER, SIGNATURE_TOLERANCE_MS, parse_signature, sign, verify

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_BODY_LIMIT",
    "SIGNATURE_HEADER",
    "SIGNATURE_TOLERANCE_MS",
    "AcceptProposal",
    "Agent",
    "Best",
    "Bid",
    "BidContext",
    "BidDecision",
    "Cancel",
    "CancelToken",
    "Capability",
    "Cfp",
    "ConfigurationError",
    "Conflict",
    "ContractNetError",
    "Deferred",
    "InvalidRequest",
    "Json",
    "ManagerClient",
    "ManagerError",
    "ManagerUnavailable",
    "ManagerUnreachable",
    "NameTaken",
    "NotAuthorized",
    "NotFound",
    "Proposal",
    "ProtocolError",
    "RateLimited",
    "Refusal",
    "RejectProposal",
    "RunningAgent",
    "StaleAward",
    "SubtaskFailed",
    "TaskSpec",
    "WorkCancelled",
    "WorkContext",
    "default_token_file",
    "deferred",
    "parse_signature",
    "sign",
    "verify",
]
