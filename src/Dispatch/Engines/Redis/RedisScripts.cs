namespace Gateway.Dispatch.Engines.Redis;

/// <summary>
/// The Lua scripts of <see cref="RedisStreamStore"/> (described step by step in docs/scale-out.md). Each operation is
/// one script so it costs one round trip and runs atomically on the Redis server: no other client can observe
/// or interleave with a half-done append. They are loaded (SCRIPT LOAD) at connect and after every reconnect,
/// so calls travel as EVALSHA. Offsets stay below 2^53 and are Lua numbers; epochs are opaque decimal strings
/// (63 bits do not fit a Lua double); <c>string.format('%d', n)</c> renders offsets without exponent notation.
/// </summary>
internal static class RedisScripts
{
    /// <summary>
    /// Append. KEYS: meta (hash e = epoch, o = last offset, b = bytes in stream), stream, retained, pending.
    /// ARGV: 1 epoch candidate, 2 timestamp ms, 3 history age cutoff ms, 4 max messages, 5 max bytes,
    /// 6 meta TTL ms, 7 stream TTL ms, 8 kind (p/u/w), 9 max pending, 10 pending expiry ms,
    /// 11 retained/pending key TTL ms, 12 body, 13 live channel, 14 "1" = SPUBLISH else PUBLISH.
    /// Returns {epoch, offset}.
    /// </summary>
    public const string Append = """
        local meta, stream = KEYS[1], KEYS[2]
        if redis.call('HSETNX', meta, 'e', ARGV[1]) == 1 then
          -- a new epoch: whatever an older epoch left behind is unreachable by offset
          redis.call('DEL', stream, KEYS[3], KEYS[4])
        end
        local epoch = redis.call('HGET', meta, 'e')
        local offset = redis.call('HINCRBY', meta, 'o', 1)
        local id = string.format('%d', offset)
        local body = ARGV[12]
        local maxMessages = tonumber(ARGV[4])
        if maxMessages > 0 then
          local bytes = 0
          if redis.call('EXISTS', stream) == 1 then bytes = tonumber(redis.call('HGET', meta, 'b') or '0') end
          redis.call('XADD', stream, id .. '-0', 't', ARGV[2], 'm', body)
          bytes = bytes + #body
          local count = redis.call('XLEN', stream)
          local maxBytes, cutoff = tonumber(ARGV[5]), tonumber(ARGV[3])
          -- trim the head by count, bytes and age; entries are offset ordered, so only the head ever goes
          local keepFrom, trimmed, from, batch = nil, false, '-', 1
          while keepFrom == nil do
            local entries = redis.call('XRANGE', stream, from, '+', 'COUNT', batch)
            if #entries == 0 then break end
            for i = 1, #entries do
              local fields = entries[i][2]
              if count > maxMessages or bytes > maxBytes or tonumber(fields[2]) < cutoff then
                count = count - 1
                bytes = bytes - #fields[4]
                trimmed = true
              else
                keepFrom = entries[i][1]
                break
              end
            end
            from = '(' .. entries[#entries][1]
            batch = math.min(batch * 4, 256)
          end
          if trimmed then
            redis.call('XTRIM', stream, 'MINID', keepFrom or (string.format('%d', offset + 1) .. '-0'))
          end
          if bytes < 0 then bytes = 0 end
          redis.call('HSET', meta, 'b', bytes)
          redis.call('PEXPIRE', stream, ARGV[7])
        end
        redis.call('PEXPIRE', meta, ARGV[6])
        local record = epoch .. ':' .. id .. ':' .. body
        local kind = ARGV[8]
        if kind == 'w' then
          redis.call('SET', KEYS[3], record, 'PX', ARGV[11])
        elseif kind == 'u' then
          local maxPending = tonumber(ARGV[9])
          if maxPending > 0 then
            local pending, now = KEYS[4], tonumber(ARGV[2])
            redis.call('ZADD', pending, offset, id .. ':' .. ARGV[10] .. ':' .. body)
            -- every notification has the same TTL, so the expired ones are the oldest: drop a few per append
            for _ = 1, 16 do
              local head = redis.call('ZRANGE', pending, 0, 0)
              if #head == 0 then break end
              local m = head[1]
              local c1 = string.find(m, ':', 1, true)
              local c2 = string.find(m, ':', c1 + 1, true)
              if tonumber(string.sub(m, c1 + 1, c2 - 1)) > now then break end
              redis.call('ZREM', pending, m)
            end
            local excess = redis.call('ZCARD', pending) - maxPending
            if excess > 0 then redis.call('ZREMRANGEBYRANK', pending, 0, excess - 1) end
            redis.call('PEXPIRE', pending, ARGV[11])
          end
        end
        if ARGV[14] == '1' then
          redis.call('SPUBLISH', ARGV[13], record)
        else
          redis.call('PUBLISH', ARGV[13], record)
        end
        return {epoch, offset}
        """;

    /// <summary>
    /// Position (epoch created when absent). KEYS: meta, stream, retained, pending. ARGV: 1 epoch candidate,
    /// 2 key TTL ms. Returns {epoch, last offset}.
    /// </summary>
    public const string Position = """
        if redis.call('HSETNX', KEYS[1], 'e', ARGV[1]) == 1 then
          redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])
          redis.call('PEXPIRE', KEYS[1], ARGV[2])
        end
        return {redis.call('HGET', KEYS[1], 'e'), tonumber(redis.call('HGET', KEYS[1], 'o') or '0')}
        """;

    /// <summary>
    /// Range read. KEYS: meta, stream. ARGV: 1 epoch, 2 after offset, 3 max messages, 4 max bytes, 5 age cutoff ms.
    /// Returns {status (0 ok, 1 end, 2 gone), epoch, last offset, body...} with bodies for offsets after+1, after+2, ...
    /// </summary>
    public const string ReadRange = """
        local epoch = redis.call('HGET', KEYS[1], 'e')
        if not epoch then return {2, '0', 0} end
        local last = tonumber(redis.call('HGET', KEYS[1], 'o') or '0')
        local after = tonumber(ARGV[2])
        if epoch ~= ARGV[1] or after > last then return {2, epoch, last} end
        if after == last then return {1, epoch, last} end
        local firstId = string.format('%d', after + 1) .. '-0'
        local entries = redis.call('XRANGE', KEYS[2], firstId, '+', 'COUNT', tonumber(ARGV[3]))
        if #entries == 0 or entries[1][1] ~= firstId or tonumber(entries[1][2][2]) < tonumber(ARGV[5]) then
          return {2, epoch, last}
        end
        local result = {0, epoch, last}
        local maxBytes, bytes, offset = tonumber(ARGV[4]), 0, after
        for i = 1, #entries do
          local body = entries[i][2][4]
          if entries[i][1] ~= string.format('%d', offset + 1) .. '-0' then break end
          if i > 1 and bytes + #body > maxBytes then break end
          bytes = bytes + #body
          offset = offset + 1
          result[#result + 1] = body
        end
        if offset >= last then result[1] = 1 end
        return result
        """;

    /// <summary>
    /// Pending read. KEYS: meta, pending. ARGV: 1 after offset, 2 max, 3 now ms.
    /// Returns {epoch, member...} (members "offset:expiry:body", unexpired, in offset order); drops expired ones met.
    /// </summary>
    public const string ReadPending = """
        local epoch = redis.call('HGET', KEYS[1], 'e')
        if not epoch then return {'0'} end
        local result = {epoch}
        local max, now = tonumber(ARGV[2]), tonumber(ARGV[3])
        local from, found = '(' .. ARGV[1], 0
        while found < max do
          local members = redis.call('ZRANGEBYSCORE', KEYS[2], from, '+inf', 'LIMIT', 0, max - found)
          if #members == 0 then break end
          for i = 1, #members do
            local m = members[i]
            local c1 = string.find(m, ':', 1, true)
            local c2 = string.find(m, ':', c1 + 1, true)
            if tonumber(string.sub(m, c1 + 1, c2 - 1)) > now then
              result[#result + 1] = m
              found = found + 1
            else
              redis.call('ZREM', KEYS[2], m)
            end
          end
          local lastMember = members[#members]
          from = '(' .. string.sub(lastMember, 1, string.find(lastMember, ':', 1, true) - 1)
        end
        return result
        """;

    /// <summary>Acknowledge. KEYS: pending. ARGV: 1 offset, 2 now ms. Returns 1 when an unexpired notification was removed.</summary>
    public const string Acknowledge = """
        local members = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[1])
        if #members == 0 then return 0 end
        redis.call('ZREMRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[1])
        local m = members[1]
        local c1 = string.find(m, ':', 1, true)
        local c2 = string.find(m, ':', c1 + 1, true)
        if tonumber(string.sub(m, c1 + 1, c2 - 1)) > tonumber(ARGV[2]) then return 1 end
        return 0
        """;

    /// <summary>Idempotency begin. KEYS: key. ARGV: 1 in-flight value, 2 in-flight TTL ms. Returns the existing value, or nil after taking the key.</summary>
    public const string IdempotencyBegin = """
        local v = redis.call('GET', KEYS[1])
        if v then return v end
        redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
        return false
        """;

    /// <summary>
    /// Idempotency complete. KEYS: key. ARGV: 1 completed value, 2 TTL ms, 3 this request's in-flight value.
    /// Returns 1 when stored; 0 when already completed or held by a request with another fingerprint.
    /// </summary>
    public const string IdempotencyComplete = """
        local v = redis.call('GET', KEYS[1])
        if v and v ~= ARGV[3] then return 0 end
        redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
        return 1
        """;

    /// <summary>Idempotency abandon. KEYS: key. ARGV: 1 this request's in-flight value. Returns 1 when released.</summary>
    public const string IdempotencyAbandon = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
        return 0
        """;

    /// <summary>Every script, for SCRIPT LOAD at connect and after reconnects.</summary>
    public static readonly string[] All = [Append, Position, ReadRange, ReadPending, Acknowledge, IdempotencyBegin, IdempotencyComplete, IdempotencyAbandon];
}
