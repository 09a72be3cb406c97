"""What an operator watches of a running centre: its Prometheus metrics (README, *Sync with the centre*)."""
