-- Delivery refresh with rotation, chained (docs/benchmarks.md).
--
-- Each refresh answers a new refresh token and retires the one sent; sending
-- a retired token again after ACCOUNTD_REFRESH_REUSE_SECONDS would revoke the
-- session. So every session is used by one request at a time: request() takes
-- an idle session from a queue and sends its current refresh token;
-- response() reads the new token, decodes its payload to find its `sid`, keeps
-- it and returns that session to the queue. With more sessions than
-- connections (256 for 128) the queue never runs dry unless answers fail.
--
-- Arguments: a file with one session per line (refresh token, tab, access
-- token), and wrk's thread count n: thread i takes lines i, i+n, ... so no
-- session is shared between threads.

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
local VALUE = {}
for i = 1, #B64 do
   VALUE[B64:byte(i)] = i - 1
end

-- base64url (no padding) to bytes.
local function b64url_decode(s)
   local out, acc, bits = {}, 0, 0
   for i = 1, #s do
      local v = VALUE[s:byte(i)]
      if v then
         acc = acc * 64 + v
         bits = bits + 6
         if bits >= 8 then
            bits = bits - 8
            local p = 2 ^ bits
            local byte = math.floor(acc / p)
            out[#out + 1] = string.char(byte)
            acc = acc - byte * p
         end
      end
   end
   return table.concat(out)
end

local function sid_of(token)
   local payload = token:match("^[^.]+%.([^.]+)%.")
   if not payload then
      return nil
   end
   return b64url_decode(payload):match('"sid"%s*:%s*"([^"]+)"')
end

local PATH = "/api/accounts/auth/refresh/"
local HEADERS = { ["Content-Type"] = "application/json" }

local threads = {}
function setup(thread)
   thread:set("part", #threads)
   table.insert(threads, thread)
end

-- Per-thread state; globals so done() can read them with thread:get.
current = {} -- sid -> its current refresh token
queue = {} -- idle sids, first in first out
head, tail = 1, 0
ok, failed, dry, sessions = 0, 0, 0, 0

function init(args)
   local n, line_no = tonumber(args[2]) or 1, 0
   for line in io.lines(args[1]) do
      if line_no % n == part then
         local refresh = line:match("^([^\t]+)")
         local sid = sid_of(refresh)
         if not sid then
            error("no sid in a refresh token of " .. args[1])
         end
         current[sid] = refresh
         tail = tail + 1
         queue[tail] = sid
         sessions = sessions + 1
      end
      line_no = line_no + 1
   end
end

function request()
   if head > tail then
      -- Every session is in flight or was lost to a failed answer: send an
      -- empty token (a 401, counted as non-2xx) rather than reuse one.
      dry = dry + 1
      return wrk.format("POST", PATH, HEADERS, '{"refresh_token":""}')
   end
   local sid = queue[head]
   queue[head] = nil
   head = head + 1
   return wrk.format("POST", PATH, HEADERS, '{"refresh_token":"' .. current[sid] .. '"}')
end

function response(status, headers, body)
   if status < 200 or status > 299 then
      failed = failed + 1
      return
   end
   local refresh = body:match('"refresh_token"%s*:%s*"([^"]+)"')
   local sid = refresh and sid_of(refresh)
   if not (sid and current[sid]) then
      failed = failed + 1
      return
   end
   current[sid] = refresh
   tail = tail + 1
   queue[tail] = sid
   ok = ok + 1
end

function done(summary, latency, requests)
   local t = { ok = 0, failed = 0, dry = 0, sessions = 0 }
   for _, thread in ipairs(threads) do
      for k in pairs(t) do
         t[k] = t[k] + (tonumber(thread:get(k)) or 0)
      end
   end
   io.write(string.format("bench: ok=%d non2xx=%d dry=%d sessions=%d\n", t.ok, t.failed, t.dry, t.sessions))
end
