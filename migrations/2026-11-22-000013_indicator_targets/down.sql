DROP TABLE indicator_targets;
