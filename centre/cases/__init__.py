"""The bad-review loop: cases, their deadlines, flow, appeals and figures."""
