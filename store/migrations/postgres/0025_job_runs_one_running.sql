-- One running row per job (jobs): a manual run ("run now" on any replica)
-- and a scheduled one used to check for a running row and then insert
-- theirs, so two could start together. Now the second insert fails on this
-- index and is recorded as skipped. A running row older than the job's
-- timeout is a dead process's, closed before a new run is claimed (and at
-- start-up); older duplicates are closed here so the index can be built.
UPDATE job_runs SET outcome = 'failed', error = 'abandoned: the process running it stopped before it finished'
    WHERE outcome = 'running' AND id NOT IN (SELECT MAX(id) FROM job_runs WHERE outcome = 'running' GROUP BY job);
CREATE UNIQUE INDEX job_runs_one_running ON job_runs(job) WHERE outcome = 'running';
