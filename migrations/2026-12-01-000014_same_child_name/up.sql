-- Two aliases that may name the same child: the same text (case and surrounding spaces aside), or
-- the same initials of two letters or more. A one-word pseudonym has one initial ('Amani' → 'A'),
-- which would match every other one-word name with that first letter.
CREATE FUNCTION haki_same_child_name(a text, b text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT lower(btrim(a)) = lower(btrim(b))
        OR (length(haki_initials(a)) >= 2 AND haki_initials(a) = haki_initials(b))
$$;
