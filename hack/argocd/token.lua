-- Argo CD health check for token-operator tokens (DatabaseToken, SystemToken).
-- #include prelude.lua

-- Ready=False for these needs a person: fixing the spec, a Secret or the engine's settings.
local degraded = {
  Expired = true,
  NotPermitted = true,
  SecretExists = true,
  TemplateError = true,
  Unsupported = true,
  EngineRejected = true,
  InvalidSpec = true,
  MultipleDefaultEngines = true,
  -- The engine refused the operator's credentials, or their Secret is missing: nothing changes
  -- until a person fixes the engine resource or the Secret.
  Unauthorized = true,
  CredentialsNotFound = true,
}
-- Ready=False for these clears by itself: a mint under way, or an engine problem the operator
-- retries with backoff (engines created in the same sync may come up after the token).
local waiting = {
  Minting = true,
  EngineNotFound = true,
  EngineNotReady = true,
  EngineError = true,
  Unreachable = true,
  DatabaseNotFound = true,
}

local ready = condition("Ready")

if obj.metadata.deletionTimestamp ~= nil then
  -- Argo CD's own check reports this before running a script; kept here for other callers.
  set("Progressing", "Revoking the engine tokens before deletion")
  local failed = condition("RevocationFailed")
  if failed ~= nil and failed.status == "True" then
    hs.message = "RevocationFailed: " .. text(failed.message)
  end
  return hs
end
if pending(ready, "Waiting for the operator to mint a token", "act on") then
  return hs
end
if ready.status == "True" then
  -- The Secret holds a live token. An engine outage does not stop it working, so it stays Healthy.
  set("Healthy", text(ready.message))
  local reach = condition("EngineReachable")
  if reach ~= nil and reach.status == "False" then
    hs.message = text(ready.message) .. "; the engine is not answering (" .. text(reach.reason) .. "): " .. text(reach.message)
  end
elseif ready.status == "False" and waiting[ready.reason] then
  set("Progressing", because(ready))
elseif ready.status == "False" and obj.status.pending ~= nil and degraded[ready.reason] == nil then
  set("Progressing", because(ready))
elseif ready.status == "False" then
  -- The listed reasons, and any reason this script does not know: make it visible.
  set("Degraded", because(ready))
else
  set("Progressing", text(ready.message))
end
return hs
