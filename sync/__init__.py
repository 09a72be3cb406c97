"""Both ends of the device ↔ centre protocol: the shared contract, the uploader, the reference collector."""
