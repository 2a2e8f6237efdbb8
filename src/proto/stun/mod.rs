//! STUN (RFC 8489) with the RFC 5780 and RFC 3489 attributes.
