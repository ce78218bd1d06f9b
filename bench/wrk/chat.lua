-- wrk script: POST an OpenAI chat completion with a ~1 KB benign user prompt to the URL's path
-- (/v1/chat/completions on the upstream, through nginx or through dualguard).
-- Environment: DG_KEY, DG_DELAY_MS, DG_MIX (see common.lua).
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "common.lua")

common.setup(function(prompt)
  return '{"model":"test-model","messages":[{"role":"user","content":' .. common.json_string(prompt) .. '}]}'
end)

function done(summary, latency, requests) common.done_tally() end
