-- Argo CD runs it with only the base, table and package libraries: no string library.
-- Reasons are the constants of api/v1alpha1/constants.go; docs/argocd.md explains each outcome.
local hs = {}

-- text guards against absent fields: concatenating nil is an error in Lua.
local function text(v)
  if v == nil then
    return ""
  end
  return v
end

local function condition(t)
  if obj.status == nil or obj.status.conditions == nil then
    return nil
  end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == t then
      return c
    end
  end
  return nil
end

-- set is the outcome: an Argo CD health status and its message.
local function set(status, message)
  hs.status = status
  hs.message = message
end

-- because is a condition's reason and message, for the outcomes a reason explains.
local function because(c)
  return text(c.reason) .. ": " .. text(c.message)
end

-- stale reports whether the operator has not acted on generation gen yet: observedGeneration is
-- behind, and so is condition c (a pass that fails, engine down, writes conditions for the new
-- generation but not status.observedGeneration).
local gen = obj.metadata.generation
local observed = nil
if obj.status ~= nil then
  observed = obj.status.observedGeneration
end
local function stale(c)
  return gen ~= nil and observed ~= nil and observed < gen and
    (c.observedGeneration == nil or c.observedGeneration < gen)
end

-- pending sets Progressing and returns true while the operator has not reported on the current
-- generation: no Ready condition yet (waiting is the message) or a stale one (verb names what the
-- operator is to do with the generation).
local function pending(ready, waiting, verb)
  if ready == nil then
    set("Progressing", waiting)
    return true
  end
  if stale(ready) then
    set("Progressing", "Waiting for the operator to " .. verb .. " generation " .. gen .. " (observed " .. observed .. ")")
    return true
  end
  return false
end
