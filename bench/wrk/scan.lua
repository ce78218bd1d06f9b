-- wrk script: POST {"prompt": ...} to dualguard's /v1/scan (the URL's path), ~1 KB per prompt.
-- DG_MIX=benign (default) sends the same benign prompt; DG_MIX=inject mixes in 25% injections
-- (blocked verdicts are still HTTP 200 on /v1/scan). Environment: DG_KEY, DG_DELAY_MS, DG_MIX
-- (see common.lua).
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "common.lua")

common.setup(function(prompt)
  return '{"prompt":' .. common.json_string(prompt) .. '}'
end)

function done(summary, latency, requests) common.done_tally() end
