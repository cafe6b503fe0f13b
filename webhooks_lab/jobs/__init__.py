"""Work that finishes later: the job model, the in-process runner, completion webhooks,
parameters, the Async Request-Reply HTTP API and its client, the lessons' job kinds."""
