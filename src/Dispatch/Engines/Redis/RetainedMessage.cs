namespace Gateway.Dispatch.Engines.Redis;

/// <summary>The retained latest message of a workflow topic (<see cref="RedisStreamStore.GetRetainedAsync"/>).</summary>
/// <param name="Epoch">Epoch the message was appended in.</param>
/// <param name="Message">The message; its payload is owned by the caller.</param>
public readonly record struct RetainedMessage(ulong Epoch, StoredMessage Message);
