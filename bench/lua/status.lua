-- One fixed request (set by the file that loads this one), answers counted by
-- status, for the login storm: a right password must never be refused, so
-- 429 and 503 are reported apart (docs/benchmarks.md).

local threads = {}
function setup(thread)
   table.insert(threads, thread)
end

counts = {}

function response(status, headers, body)
   counts[status] = (counts[status] or 0) + 1
end

function done(summary, latency, requests)
   local total = {}
   for _, thread in ipairs(threads) do
      for status, n in pairs(thread:get("counts")) do
         total[status] = (total[status] or 0) + n
      end
   end
   local parts = {}
   for status, n in pairs(total) do
      parts[#parts + 1] = string.format("%d=%d", status, n)
   end
   table.sort(parts)
   io.write("bench: status " .. table.concat(parts, " ") .. "\n")
end
