DROP TABLE trainings;
