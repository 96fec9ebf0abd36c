-- wrk script: POSTs the same KServe v2 JSON infer request on every connection.
--
--   wrk -t2 -c64 -d20s -s bench/wrk/infer.lua http://127.0.0.1:8000 -- MODEL INPUT DIMS [DATATYPE]
--   SURGE_MODEL=mlp SURGE_INPUT=input SURGE_DIMS=1,64 wrk -t2 -c64 -d20s -s bench/wrk/infer.lua http://127.0.0.1:8000
--
-- Script arguments win over the environment; the defaults are identity_fp32, INPUT0, 1,16, FP32.
-- DIMS is the whole request shape, batch dimension included: 1,64 is one row of 64 values.
-- The values are fixed (not random) so every run sends the same bytes.

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "summary.lua")

local function setting(args, index, variable, default)
  local value = args[index]
  if value == nil or value == "" then value = os.getenv(variable) end
  if value == nil or value == "" then value = default end
  return value
end

function init(args)
  local model = setting(args, 1, "SURGE_MODEL", "identity_fp32")
  local input = setting(args, 2, "SURGE_INPUT", "INPUT0")
  local dims = setting(args, 3, "SURGE_DIMS", "1,16")
  local datatype = setting(args, 4, "SURGE_DATATYPE", "FP32")

  local shape, count = {}, 1
  for dim in dims:gmatch("%d+") do
    shape[#shape + 1] = dim
    count = count * tonumber(dim)
  end
  local floating = datatype:match("^FP") or datatype == "BF16"
  local data = {}
  for i = 1, count do
    local step = (i * 37) % 101
    data[i] = floating and string.format("%.2f", step / 100) or tostring(step)
  end

  wrk.method = "POST"
  wrk.path = "/v2/models/" .. model .. "/infer"
  wrk.headers["Content-Type"] = "application/json"
  wrk.body = string.format('{"inputs":[{"name":"%s","shape":[%s],"datatype":"%s","data":[%s]}]}',
    input, table.concat(shape, ","), datatype, table.concat(data, ","))
end
