"""The meeting WebSocket protocol, version 1 (docs/signalling.md): typed messages both ways.

Client messages (``client``) are parsed into closed models (an unknown ``type`` gets ``unknown_type``);
server messages (``server``) are built from models too, so tests can check every frame against the
same schema."""

from .base import (
    ClientMessage as ClientMessage,
)
from .base import (
    ServerMessage as ServerMessage,
)
from .board import (
    BoardGet as BoardGet,
)
from .board import (
    BoardLocked as BoardLocked,
)
from .board import (
    BoardScene as BoardScene,
)
from .board import (
    BoardUpdate as BoardUpdate,
)
from .board import (
    BoardUpdated as BoardUpdated,
)
from .board import (
    HostBoardClear as HostBoardClear,
)
from .board import (
    HostBoardLock as HostBoardLock,
)
from .captions import (
    CaptionsError as CaptionsError,
)
from .captions import (
    CaptionsGet as CaptionsGet,
)
from .captions import (
    CaptionsStart as CaptionsStart,
)
from .captions import (
    CaptionsState as CaptionsState,
)
from .captions import (
    CaptionsStop as CaptionsStop,
)
from .captions import (
    CaptionsText as CaptionsText,
)
from .client import (
    CLIENT_MESSAGE as CLIENT_MESSAGE,
)
from .client import (
    CLIENT_TYPES as CLIENT_TYPES,
)
from .client import (
    MAX_SDP as MAX_SDP,
)
from .client import (
    VERSION as VERSION,
)
from .client import (
    AnyClientMessage as AnyClientMessage,
)
from .client import (
    ChatSend as ChatSend,
)
from .client import (
    Date as Date,
)
from .client import (
    Feed as Feed,
)
from .client import (
    Hand as Hand,
)
from .client import (
    Hello as Hello,
)
from .client import (
    HostAdmit as HostAdmit,
)
from .client import (
    HostAdmitAll as HostAdmitAll,
)
from .client import (
    HostChatExport as HostChatExport,
)
from .client import (
    HostDeny as HostDeny,
)
from .client import (
    HostEnd as HostEnd,
)
from .client import (
    HostLock as HostLock,
)
from .client import (
    HostMute as HostMute,
)
from .client import (
    HostMuteAll as HostMuteAll,
)
from .client import (
    HostRecord as HostRecord,
)
from .client import (
    HostRemove as HostRemove,
)
from .client import (
    IceCandidate as IceCandidate,
)
from .client import (
    Id as Id,
)
from .client import (
    Kind as Kind,
)
from .client import (
    Leave as Leave,
)
from .client import (
    MediaAnswer as MediaAnswer,
)
from .client import (
    MediaCandidate as MediaCandidate,
)
from .client import (
    MediaIceRestart as MediaIceRestart,
)
from .client import (
    MediaPublish as MediaPublish,
)
from .client import (
    MediaState as MediaState,
)
from .client import (
    MediaUnpublish as MediaUnpublish,
)
from .client import (
    MediaView as MediaView,
)
from .client import (
    Ping as Ping,
)
from .client import (
    ProtocolError as ProtocolError,
)
from .client import (
    Resume as Resume,
)
from .client import (
    SetName as SetName,
)
from .client import (
    Talking as Talking,
)
from .client import (
    Text as Text,
)
from .client import (
    Tile as Tile,
)
from .client import (
    parse_client as parse_client,
)
from .server import (
    SERVER_MESSAGE as SERVER_MESSAGE,
)
from .server import (
    Admitted as Admitted,
)
from .server import (
    AnyServerMessage as AnyServerMessage,
)
from .server import (
    ChatExport as ChatExport,
)
from .server import (
    ChatMessageOut as ChatMessageOut,
)
from .server import (
    ChatView as ChatView,
)
from .server import (
    Denied as Denied,
)
from .server import (
    Error as Error,
)
from .server import (
    Features as Features,
)
from .server import (
    Feeds as Feeds,
)
from .server import (
    IceCandidateOut as IceCandidateOut,
)
from .server import (
    IceServers as IceServers,
)
from .server import (
    IceServerView as IceServerView,
)
from .server import (
    LimitClass as LimitClass,
)
from .server import (
    Limits as Limits,
)
from .server import (
    Lobby as Lobby,
)
from .server import (
    LobbyUpdate as LobbyUpdate,
)
from .server import (
    Locked as Locked,
)
from .server import (
    MediaAnswerOut as MediaAnswerOut,
)
from .server import (
    MediaCandidateOut as MediaCandidateOut,
)
from .server import (
    MediaError as MediaError,
)
from .server import (
    MediaOffer as MediaOffer,
)
from .server import (
    MediaReset as MediaReset,
)
from .server import (
    MediaStreams as MediaStreams,
)
from .server import (
    MeetingEnded as MeetingEnded,
)
from .server import (
    Muted as Muted,
)
from .server import (
    ParticipantJoined as ParticipantJoined,
)
from .server import (
    ParticipantLeft as ParticipantLeft,
)
from .server import (
    ParticipantUpdated as ParticipantUpdated,
)
from .server import (
    ParticipantView as ParticipantView,
)
from .server import (
    Pong as Pong,
)
from .server import (
    Recording as Recording,
)
from .server import (
    RecordingChoices as RecordingChoices,
)
from .server import (
    Removed as Removed,
)
from .server import (
    RoomChanged as RoomChanged,
)
from .server import (
    RoomView as RoomView,
)
from .server import (
    Stream as Stream,
)
from .server import (
    TalkingOut as TalkingOut,
)
from .server import (
    ThemeView as ThemeView,
)
from .server import (
    Waiting as Waiting,
)
from .server import (
    Welcome as Welcome,
)
from .watch import (
    WatchControl as WatchControl,
)
from .watch import (
    WatchEnded as WatchEnded,
)
from .watch import (
    WatchGet as WatchGet,
)
from .watch import (
    WatchHandOver as WatchHandOver,
)
from .watch import (
    WatchSource as WatchSource,
)
from .watch import (
    WatchStart as WatchStart,
)
from .watch import (
    WatchState as WatchState,
)
from .watch import (
    WatchStop as WatchStop,
)

# Close codes (docs/signalling.md).
CLOSE_PROTOCOL, CLOSE_REMOVED, CLOSE_DENIED, CLOSE_NOT_FOUND, CLOSE_REPLACED, CLOSE_ENDED = (
    4400, 4401, 4403, 4404, 4409, 4410)
# Flow control (signalling/flow.py): a slow reader resumes (the UI reconnects with its resume token);
# an abusive sender and a client address over its socket cap do not.
CLOSE_SLOW_READER, CLOSE_RATE_LIMITED, CLOSE_TOO_MANY_SOCKETS = 4408, 4429, 4430
# Refused before the room is looked up (web/pages.py): a browser page of a site that may not embed the
# meeting; the client address looked up too many unknown meetings (api/probes.py).
CLOSE_ORIGIN, CLOSE_PROBES = 4406, 4431
# Several machines (cluster/ownership.py): another node owns the meeting, or took it over; the UI
# reconnects (with its resume token) and the front sends it on.
CLOSE_MOVED = 4503
