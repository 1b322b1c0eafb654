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
