-- The database work of GET /api/v1/partners?limit=50: the caller's user row, then one page.
SELECT role, organization_id, active, token_version FROM users ORDER BY id LIMIT 1;
SELECT id, name, kind, counties, contact_name, contact_email, contact_phone, services_offered,
       mou_signed_on, mou_expires_on, active, notes, version, created_at, updated_at
  FROM partners ORDER BY id DESC LIMIT 51;
