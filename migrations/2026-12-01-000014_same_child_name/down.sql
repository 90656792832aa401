DROP FUNCTION haki_same_child_name(text, text);
