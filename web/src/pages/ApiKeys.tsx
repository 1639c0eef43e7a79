/** @module web/pages/ApiKeys — a tenant admin's keys (the platform admin sees the same panel per tenant). */
import { PageTitle } from "../components/ui.tsx";
import { KeysPanel } from "../components/KeysPanel.tsx";

export default function ApiKeys() {
  return (
    <>
      <PageTitle title="API keys">Keys of this tenant. A key's secret is shown once, when it is created; revoking a key closes its live connections within a second.</PageTitle>
      <KeysPanel tenantId={null} />
    </>
  );
}
