-- Argo CD health check for secrets.csms-operator.io/ManagedSecret.
--
-- It reads the conditions as kstatus (Flux, kpt) does:
-- Degraded     Stalled=True (no retry can succeed without someone's change: AlreadyExists,
--              OwnedByAnotherResource, OwnershipLost, PolicyDenied, InvalidSpec,
--              VersionLimitReached, EnvironmentNotAllowed), or Ready=False for another
--              reason that needs a person: SourceNotFound, ProviderConfigNotReady,
--              CredentialsNotFound, Unauthorized, ReplicaFailed, PendingDeletion,
--              ReconcileError, or a reason this script does not know.
-- Healthy      Ready=True and the Ready condition describes the current generation.
-- Progressing  no status yet, a condition about an older generation, Reconciling=True,
--              or a Ready reason the operator (or CSMS, or another tool creating an
--              observed secret) resolves by itself: Creating, Updating, ReplicasSyncing,
--              Deleting, Throttled, SecretNotFound.
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
  Throttled = true,
  SecretNotFound = true,
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
local stalled = findCondition(conditions, "Stalled")

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

if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = (stalled.reason or "") .. ": " .. (stalled.message or "")
  return hs
end

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
