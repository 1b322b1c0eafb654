-- Argo CD health check for token-operator engines (ClusterTokenEngine, TokenEngine).
-- #include prelude.lua

local ready = condition("Ready")

if ready == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to check the engine"
elseif stale(ready) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to check generation " .. gen .. " (observed " .. observed .. ")"
elseif ready.status == "True" then
  hs.status = "Healthy"
  hs.message = text(ready.message)
elseif ready.status == "False" and ready.reason ~= "NotChecked" then
  -- Unreachable, Unauthorized, CredentialsNotFound, InvalidConfig, EngineRejected: every token
  -- of this engine is affected until a person acts (the operator keeps re-checking).
  hs.status = "Degraded"
  hs.message = text(ready.reason) .. ": " .. text(ready.message)
else
  hs.status = "Progressing"
  hs.message = text(ready.message)
end
return hs
