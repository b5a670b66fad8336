"""Live Link Face streaming to Unreal Engine: packet codec, paced UDP sender, and a receiver."""

from app.io.livelink.codec import (
    DEFAULT_PORT,
    LIVE_LINK_FACE_NAMES,
    PACKET_VERSION,
    VALUE_COUNT,
    LiveLinkError,
    LiveLinkPacket,
    LiveLinkPacketError,
    decode_packet,
    encode_packet,
    neutral_values,
    packet_size,
    to_packet_units,
)
from app.io.livelink.receiver import FrameStats, LiveLinkReceiver, LiveLinkReceiverError, ReceivedPacket
from app.io.livelink.sender import (
    DEFAULT_SUBJECT,
    LiveLinkSender,
    LiveLinkTargetError,
    SenderStatus,
    default_device_id,
    parse_target,
    resolve_targets,
)

__all__ = [
    "DEFAULT_PORT",
    "DEFAULT_SUBJECT",
    "LIVE_LINK_FACE_NAMES",
    "PACKET_VERSION",
    "VALUE_COUNT",
    "FrameStats",
    "LiveLinkError",
    "LiveLinkPacket",
    "LiveLinkPacketError",
    "LiveLinkReceiver",
    "LiveLinkReceiverError",
    "LiveLinkSender",
    "LiveLinkTargetError",
    "ReceivedPacket",
    "SenderStatus",
    "decode_packet",
    "default_device_id",
    "encode_packet",
    "neutral_values",
    "packet_size",
    "parse_target",
    "resolve_targets",
    "to_packet_units",
]
