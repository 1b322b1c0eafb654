-- Argo CD health check for token-operator engines (ClusterTokenEngine, TokenEngine).
-- #include prelude.lua

local ready = condition("Ready")

if pending(ready, "Waiting for the operator to check the engine", "check") then
  return hs
end
if ready.status == "True" then
  set("Healthy", text(ready.message))
elseif ready.status == "False" and ready.reason ~= "NotChecked" then
  -- Unreachable, Unauthorized, CredentialsNotFound, InvalidConfig, EngineRejected: every token
  -- of this engine is affected until a person acts (the operator keeps re-checking).
  set("Degraded", because(ready))
else
  set("Progressing", text(ready.message))
end
return hs
