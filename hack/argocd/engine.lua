-- Argo CD health check for token-operator engines (ClusterTokenEngine, TokenEngine).
-- #include prelude.lua

local ready = condition("Ready")
local gen = obj.metadata.generation
local observed = nil
if obj.status ~= nil then
  observed = obj.status.observedGeneration
end

if ready == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to check the engine"
elseif gen ~= nil and observed ~= nil and observed < gen and
    (ready.observedGeneration == nil or ready.observedGeneration < gen) then
  -- Stale only if the condition is stale too: a pass that fails (engine down) writes conditions
  -- for the new generation but not status.observedGeneration.
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
