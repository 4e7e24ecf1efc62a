-- Argo CD health check for secrets.csms-operator.io/ManagedSecret.
--
-- Healthy      Ready=True and the Ready condition describes the current generation.
-- Progressing  no status yet, a condition about an older generation, or a Ready reason
--              the operator resolves by itself (Creating, Updating, ReplicasSyncing,
--              Deleting, Throttled, ...).
-- Degraded     Ready=False for a reason that needs a person: AlreadyExists, InvalidSpec,
--              SourceNotFound, ProviderConfigNotReady, CredentialsNotFound, Unauthorized,
--              ReplicaFailed, PendingDeletion, ReconcileError, or a reason this script
--              does not know.
--
-- Install: argocd-cm key resource.customizations.health.secrets.csms-operator.io_ManagedSecret
-- (see docs/guides/argocd.md). Tested by hack/argocd-health.

local hs = {}

-- Ready=False reasons the operator works through without help.
local progressing = {
  Creating = true,
  Updating = true,
  ReplicasSyncing = true,
  Deleting = true,
  Deleted = true,
  Retained = true,
  Adopted = true,
  Restored = true,
  Throttled = true,
}

local function findCondition(conditions, condType)
  if conditions == nil then
    return nil
  end
  for _, c in ipairs(conditions) do
    if c.type == condType then
      return c
    end
  end
  return nil
end

local generation = 0
if obj.metadata ~= nil and obj.metadata.generation ~= nil then
  generation = obj.metadata.generation
end

local conditions = nil
if obj.status ~= nil then
  conditions = obj.status.conditions
end
local ready = findCondition(conditions, "Ready")
local synced = findCondition(conditions, "Synced")

if ready == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for csms-operator to reconcile the ManagedSecret"
  return hs
end

-- A condition written for an older spec says nothing about the current one.
if ready.observedGeneration ~= nil and ready.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for csms-operator to reconcile generation " .. generation ..
    " (Ready describes generation " .. ready.observedGeneration .. ")"
  return hs
end

local reason = ready.reason or ""
local message = ready.message or ""

if ready.status == "True" then
  hs.status = "Healthy"
  hs.message = message
  -- Throttling and network errors keep Ready=True (the cloud secret is still there);
  -- show them without failing the application.
  if synced ~= nil and synced.status == "False" then
    hs.message = message .. " (last reconcile failed, retrying: " .. (synced.reason or "") .. ")"
  end
  return hs
end

if ready.status == "False" and not progressing[reason] then
  hs.status = "Degraded"
  hs.message = reason .. ": " .. message
  return hs
end

hs.status = "Progressing"
if reason ~= "" then
  hs.message = reason .. ": " .. message
else
  hs.message = message
end
return hs
