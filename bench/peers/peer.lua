-- wrk script for the peer servers: the request body of bench/wrk/infer.lua
-- (one KServe v2 JSON infer request, same bytes), POSTed to the path of the
-- URL given to wrk instead of /v2/models/MODEL/infer, since each peer serves
-- its own route:
--
--   wrk -t2 -c64 -d15s -s bench/peers/peer.lua http://127.0.0.1:8000/predict -- mlp input 1,64

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "../wrk/infer.lua")

local infer_init = init
function init(args)
  local url_path = wrk.path
  infer_init(args)
  if url_path ~= nil and url_path ~= "" and url_path ~= "/" then
    wrk.path = url_path
  end
end
