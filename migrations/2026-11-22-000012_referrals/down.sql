DROP FUNCTION haki_initials(text);
DROP TABLE referrals;
