"""The Slack bot: the bolt app and its listeners, the services they call, and what those
need (answer queue, state, delivery, rendering, HTTP mode, the digest and its scheduler)."""
