//! A table of malformed scenarios: each must fail with its message at its line, exit code 2
//! from the command line, and leave no output file behind.

use crate::support::{cellsim, temp_dir};

const GOOD_SERVICE: &str = "[[service]]\nname = \"api\"\nservice_time = { dist = \"exponential\", mean = \"5ms\" }\n";
const HEAD: &str = "[scenario]\nname = \"bad\"\nduration = \"1m\"\n\n[[workload]]\nname = \"w\"\narrival = { process = \"poisson\", rate_per_s = 10 }\n\n[[workload.request]]\nname = \"get\"\ntarget = \"api\"\n\n";

struct Case {
    name: &'static str,
    toml: String,
    line: usize,
    message: &'static str,
    hint: Option<&'static str>,
}

/// Three cells of api -> db behind a router, placed in zones a and b, one cell down.
const CELLS: &str = "[scenario]\nname = \"bad\"\nduration = \"1m\"\n\n[[region]]\nname = \"r\"\nzones = [\"a\", \"b\"]\n\n[cells]\ncount = 3\nservices = [\"api\", \"db\"]\nzones = [\"a\", \"b\"]\n\n[[workload]]\nname = \"w\"\narrival = { process = \"poisson\", rate_per_s = 10 }\n\n[[workload.request]]\nname = \"get\"\ntarget = \"router\"\n\n[[service]]\nname = \"router\"\nservice_time = { dist = \"constant\", value = \"1ms\" }\nrouting = { kind = \"hash\" }\n\n[[service.call]]\nto = \"api\"\n\n[[service]]\nname = \"api\"\nservice_time = { dist = \"constant\", value = \"1ms\" }\n\n[[service.call]]\nto = \"db\"\n\n[[service]]\nname = \"db\"\nservice_time = { dist = \"constant\", value = \"1ms\" }\n\n[[fault]]\nkind = \"outage\"\ncell = \"cell-2\"\nstart = \"1s\"\nduration = \"1s\"\n";

/// `CELLS` with the last occurrence of `from` replaced by `to`: the error is on that line.
fn cell_case(name: &'static str, from: &str, to: &str, message: &'static str, hint: Option<&'static str>) -> Case {
    let at = CELLS.rfind(from).unwrap_or_else(|| panic!("{name}: `{from}` is in CELLS"));
    let toml = format!("{}{to}{}", &CELLS[..at], &CELLS[at + from.len()..]);
    let line = CELLS[..at].lines().count() + if CELLS[..at].ends_with('\n') { 1 } else { 0 };
    Case { name, toml, line, message, hint }
}

fn cases() -> Vec<Case> {
    let head_lines = HEAD.lines().count();
    let c = |name, toml: String, line, message, hint| Case { name, toml, line, message, hint };
    vec![
        c("misspelt key", format!("{HEAD}{GOOD_SERVICE}wrokers = 4\n"), head_lines + 4, "unknown field `wrokers`", Some("did you mean `workers`?")),
        c("misspelt table", format!("{HEAD}[[servce]]\nname = \"api\"\n"), head_lines + 1, "unknown field `servce`", Some("did you mean `service`?")),
        c(
            "call to an undefined service",
            format!("{HEAD}{GOOD_SERVICE}\n[[service.call]]\nto = \"dbb\"\n\n[[service]]\nname = \"db\"\nservice_time = {{ dist = \"constant\", value = \"1ms\" }}\n"),
            head_lines + 6,
            "no service is named `dbb`",
            Some("did you mean `db`?"),
        ),
        c(
            "cycle in the call graph",
            format!("{HEAD}{GOOD_SERVICE}\n[[service.call]]\nto = \"b\"\n\n[[service]]\nname = \"b\"\nservice_time = {{ dist = \"constant\", value = \"1ms\" }}\n\n[[service.call]]\nto = \"api\"\n"),
            head_lines + 13,
            "the call graph has a cycle: api -> b -> api",
            None,
        ),
        c(
            "two workloads with one name",
            format!("{HEAD}[[workload]]\nname = \"w\"\narrival = {{ process = \"poisson\", rate_per_s = 1 }}\n\n[[workload.request]]\nname = \"get\"\ntarget = \"api\"\n\n{GOOD_SERVICE}"),
            head_lines + 2,
            "workload `w` is defined twice",
            Some("workload names must be unique"),
        ),
        c(
            // Found by fuzz-compile (fuzz/seeds/duplicate-workloads-with-customers.toml): the
            // two populations' sizes were compared as if shared, and panicked.
            "two workloads with one name and different customers",
            format!("{HEAD}[[workload]]\nname = \"w\"\ncustomers = 7\narrival = {{ process = \"poisson\", rate_per_s = 1 }}\n\n[[workload.request]]\nname = \"get\"\ntarget = \"api\"\n\n{GOOD_SERVICE}"),
            head_lines + 2,
            "workload `w` is defined twice",
            Some("workload names must be unique"),
        ),
        c(
            // Found by fuzz-compile (fuzz/seeds/region-without-zones.toml): the services'
            // placement divided by the empty list of zones.
            "a region without zones",
            format!("{HEAD}[[region]]\nname = \"r\"\nzones = []\n\n{GOOD_SERVICE}"),
            head_lines + 1,
            "a region needs zones",
            Some("zones = ["),
        ),
        c(
            // Found by fuzz-compile (fuzz/seeds/region-fault-without-zones.toml): a region
            // fault looked up the zones of a region that declares none.
            "a region fault where the region has no zones",
            format!("{HEAD}[[region]]\nname = \"r\"\nzones = []\n\n{GOOD_SERVICE}\n[[fault]]\nkind = \"outage\"\nregion = \"r\"\nstart = \"1s\"\nduration = \"1s\"\n"),
            head_lines + 1,
            "a region needs zones",
            Some("zones = ["),
        ),
        c(
            // Found by fuzz-compile (fuzz/seeds/autoscaling-min-over-the-most.toml): bounds were
            // clamped with min above the most instances, and panicked.
            "autoscaling with min over the most instances",
            format!("{HEAD}{GOOD_SERVICE}autoscaling = {{ kind = \"hpa\", min = 100001, max = 12, target_utilisation = 50 }}\n"),
            head_lines + 4,
            "min and max must satisfy 1 <= min <= max <= 100000, not 100001 and 12",
            None,
        ),
        c(
            "a fault with a window and random failures",
            format!("{HEAD}{GOOD_SERVICE}\n[[fault]]\nkind = \"outage\"\nservice = \"api\"\nstart = \"1s\"\nduration = \"1s\"\nmtbf = {{ dist = \"exponential\", mean = \"9s\" }}\nmttr = {{ dist = \"exponential\", mean = \"1s\" }}\n"),
            head_lines + 10,
            "a fault has a window or random failures, not both",
            Some("give start and duration"),
        ),
        c(
            "random failures without repairs",
            format!("{HEAD}{GOOD_SERVICE}\n[[fault]]\nkind = \"outage\"\nservice = \"api\"\nmtbf = {{ dist = \"exponential\", mean = \"9s\" }}\n"),
            head_lines + 8,
            "random failures need both mtbf and mttr",
            None,
        ),
        c(
            "random cpu stress",
            format!("{HEAD}{GOOD_SERVICE}\n[[fault]]\nkind = \"cpu-stress\"\nservice = \"api\"\nload_percent = 50\nmtbf = {{ dist = \"exponential\", mean = \"9s\" }}\nmttr = {{ dist = \"exponential\", mean = \"1s\" }}\n"),
            head_lines + 5,
            "only outages, stops and reboots fail at random",
            Some("kind = \"outage\""),
        ),
        c(
            "an option of another kind",
            format!("{HEAD}{GOOD_SERVICE}\n[[fault]]\nkind = \"blackhole\"\nservice = \"api\"\nstart = \"1s\"\nduration = \"1s\"\nlatency = \"5ms\"\n"),
            head_lines + 10,
            "blackhole faults have no latency",
            Some("latency belongs to kind = \"network-latency\""),
        ),
        c(
            "network latency without a latency",
            format!("{HEAD}{GOOD_SERVICE}\n[[fault]]\nkind = \"network-latency\"\nservice = \"api\"\nstart = \"1s\"\nduration = \"1s\"\njitter = \"5ms\"\n"),
            head_lines + 5,
            "network-latency faults need latency",
            Some("latency = \"100ms\""),
        ),
        c(
            "packet loss over 100%",
            format!("{HEAD}{GOOD_SERVICE}\n[[fault]]\nkind = \"packet-loss\"\nservice = \"api\"\nstart = \"1s\"\nduration = \"1s\"\nloss_percent = 120\n"),
            head_lines + 10,
            "loss_percent must be above 0 and at most 100, not 120",
            Some("AWS FIS injects 7 by default"),
        ),
        c(
            "a terminated instance with a duration",
            format!("{HEAD}{GOOD_SERVICE}\n[[fault]]\nkind = \"terminate\"\nservice = \"api\"\nstart = \"1s\"\nduration = \"1s\"\n"),
            head_lines + 9,
            "a terminated instance does not come back",
            Some("kind = \"stop\""),
        ),
        c(
            "a poisoned customer out of range",
            format!("{HEAD}{GOOD_SERVICE}\n[[fault]]\nkind = \"poison-pill\"\nservice = \"api\"\nstart = \"1s\"\nduration = \"1s\"\ncustomers = [5]\n"),
            head_lines + 10,
            "customer 5 is not one of workload w's 1 (ids from 0)",
            Some("customers = [7]"),
        ),
        c(
            "two ways to pick instances",
            format!("{HEAD}{GOOD_SERVICE}\n[[fault]]\nkind = \"outage\"\nservice = \"api\"\nstart = \"1s\"\nduration = \"1s\"\ncount = 1\npercent = 50\n"),
            head_lines + 11,
            "a fault picks its instances one way",
            Some("count = N or percent = P"),
        ),
        c(
            "a partition without its link",
            format!("{HEAD}{GOOD_SERVICE}\n[[fault]]\nkind = \"partition\"\nstart = \"1s\"\nduration = \"1s\"\n"),
            head_lines + 5,
            "a partition needs the link it cuts",
            Some("from = \"zone use1-az1\""),
        ),
        c(
            "a link without a topology",
            format!("{HEAD}{GOOD_SERVICE}\n[[fault]]\nkind = \"partition\"\nfrom = \"service api\"\nstart = \"1s\"\nduration = \"1s\"\n"),
            head_lines + 7,
            "a link joins placements: the scenario declares no [[region]]",
            Some("declare regions and zones"),
        ),
        c(
            "a gray failure that does nothing",
            format!("{HEAD}{GOOD_SERVICE}\n[[fault]]\nkind = \"gray\"\nservice = \"api\"\nstart = \"1s\"\nduration = \"1s\"\n"),
            head_lines + 5,
            "gray faults need error_percent",
            Some("error_percent = 5"),
        ),
        c(
            "a ramp longer than the fault",
            format!("{HEAD}{GOOD_SERVICE}\n[[fault]]\nkind = \"cpu-stress\"\nservice = \"api\"\nload_percent = 50\nstart = \"1s\"\nduration = \"10s\"\nramp = \"20s\"\n"),
            head_lines + 11,
            "the ramp (20.000s) must be above 0 and at most the fault's duration (10.000s)",
            Some("a shorter ramp"),
        ),
        c(
            "a repetition that overlaps the last",
            format!("{HEAD}{GOOD_SERVICE}\n[[fault]]\nkind = \"outage\"\nservice = \"api\"\nstart = \"1s\"\nduration = \"10s\"\nevery = \"5s\"\n"),
            head_lines + 10,
            "every (5.000s) must be longer than duration (10.000s): a repetition would start before the last ends",
            Some("a longer every"),
        ),
        c(
            "the same fault twice at once",
            format!("{HEAD}{GOOD_SERVICE}\n[[fault]]\nkind = \"cpu-stress\"\nservice = \"api\"\nload_percent = 50\nstart = \"1s\"\nduration = \"10s\"\n\n[[fault]]\nkind = \"cpu-stress\"\nservice = \"api\"\nload_percent = 30\nstart = \"5s\"\nduration = \"10s\"\n"),
            head_lines + 12,
            "fault[1] is another cpu-stress of service api acting at the same time as fault[0]",
            Some("CPU stresses multiply"),
        ),
        c(
            "a calendar with a start",
            format!("{HEAD}{GOOD_SERVICE}\n[[fault]]\nkind = \"terminate\"\nservice = \"api\"\nstart = \"1s\"\nchaos_monkey = {{ mean_days = 2 }}\n"),
            head_lines + 9,
            "the calendar picks the kills' times: no start",
            Some("mean_days sets how often"),
        ),
        c(
            "a grace as long as the task kill",
            format!("{HEAD}{GOOD_SERVICE}\n[[fault]]\nkind = \"task-kill\"\nservice = \"api\"\nstart = \"1s\"\nduration = \"10s\"\ngrace = \"10s\"\n"),
            head_lines + 10,
            "the grace (10.000s) must end before the fault does (10.000s)",
            Some("its grace included"),
        ),
        {
            // Found by fuzz-compile (fuzz/seeds/poison-pill-after-a-huge-population.toml): a
            // poison pill's customer id past an overflowing first id panicked.
            let toml = std::fs::read_to_string(crate::support::repo_path("fuzz/seeds/poison-pill-after-a-huge-population.toml")).unwrap();
            let message = "the workloads have 4,294,969,295 customers together, more than 1,000,000,000";
            c("a poison pill after a huge population", toml, 9, message, Some("customers are partition keys"))
        },
        {
            // Found by fuzz-compile (fuzz/seeds/memory-fault-without-services.toml): a memory
            // fault's check for a heap looked its unknown service up by index and panicked.
            let toml =
                std::fs::read_to_string(crate::support::repo_path("fuzz/seeds/memory-fault-without-services.toml")).unwrap();
            c("a memory fault on a service that does not exist", toml, 3, "the scenario has no [[workload]]", None)
        },
        c(
            "an api error without its share",
            format!("{HEAD}{GOOD_SERVICE}\n[[fault]]\nkind = \"api-error\"\nservice = \"api\"\nstart = \"1s\"\nduration = \"10s\"\nclass = \"throttled\"\n"),
            head_lines + 5,
            "api-error faults need error_percent",
            Some("error_percent = 20 fails one call in five"),
        ),
        c(
            "an error class on a gray failure",
            format!("{HEAD}{GOOD_SERVICE}\n[[fault]]\nkind = \"gray\"\nservice = \"api\"\nstart = \"1s\"\nduration = \"10s\"\nerror_percent = 5\nclass = \"throttled\"\n"),
            head_lines + 11,
            "gray faults have no class",
            Some("class belongs to kind = \"api-error\" or \"http-fault\""),
        ),
        c(
            "an unknown error class",
            format!("{HEAD}{GOOD_SERVICE}\n[[fault]]\nkind = \"api-error\"\nservice = \"api\"\nstart = \"1s\"\nduration = \"10s\"\nerror_percent = 5\nclass = \"throtled\"\n"),
            head_lines + 11,
            "unknown variant `throtled`",
            Some("did you mean `throttled`?"),
        ),
        c(
            "a steal share over 100",
            format!("{HEAD}{GOOD_SERVICE}\n[noise]\ncpu_steal = {{ percent = 150 }}\n"),
            head_lines + 6,
            "percent must be from 0 to 100, not 150",
            Some("leave it out for the default, 10"),
        ),
        c(
            "a steal range upside down",
            format!("{HEAD}{GOOD_SERVICE}\n[noise]\ncpu_steal = {{ low = 2, high = 1.5 }}\n"),
            head_lines + 6,
            "high (1.5) must be at least low (2)",
            Some("low = high gives every noisy instance that one multiplier"),
        ),
        c(
            "a steal multiplier below 1",
            format!("{HEAD}{GOOD_SERVICE}\n[noise]\ncpu_steal = {{ low = 0.5 }}\n"),
            head_lines + 6,
            "low must be from 1 to 100, not 0.5",
            Some("1 is a quiet instance"),
        ),
        c(
            "pauses every 0 s",
            format!("{HEAD}{GOOD_SERVICE}\n[noise]\npauses = {{ every = \"0s\" }}\n"),
            head_lines + 6,
            "every must be at least 1ms",
            Some("leave it out for the default, 10.000s"),
        ),
        c(
            "a misspelt noise key",
            format!("{HEAD}{GOOD_SERVICE}\n[noise]\nnetwork = {{ jiter = \"1ms\" }}\n"),
            head_lines + 6,
            "unknown field `jiter`",
            Some("did you mean `jitter`?"),
        ),
        c(
            "a memory leak on a service without memory",
            format!("{HEAD}{GOOD_SERVICE}\n[[fault]]\nkind = \"memory-leak\"\nservice = \"api\"\nstart = \"1s\"\nduration = \"10s\"\nleak_mb_per_s = 1\n"),
            head_lines + 5,
            "memory-leak faults act on a heap, and service api has no memory",
            Some("give api its heap: memory = { limit_mb = 512, base_mb = 100 }"),
        ),
        c(
            "a memory stress without its size",
            format!("{HEAD}[[service]]\nname = \"api\"\nservice_time = {{ dist = \"constant\", value = \"1ms\" }}\nmemory = {{ limit_mb = 512 }}\n\n[[fault]]\nkind = \"memory-stress\"\nservice = \"api\"\nstart = \"1s\"\nduration = \"10s\"\n"),
            head_lines + 6,
            "memory-stress faults need memory_mb",
            Some("memory_mb = 256 takes half of a 512 MB heap"),
        ),
        c(
            "a heap whose base is over its limit",
            format!("{HEAD}[[service]]\nname = \"api\"\nservice_time = {{ dist = \"constant\", value = \"1ms\" }}\nmemory = {{ limit_mb = 512, base_mb = 600 }}\n"),
            head_lines + 4,
            "base_mb (600) must be below limit_mb (512): the instance would be killed at once",
            Some("base_mb is an idle instance's live data"),
        ),
        c(
            "a heap without a limit",
            format!("{HEAD}[[service]]\nname = \"api\"\nservice_time = {{ dist = \"constant\", value = \"1ms\" }}\nmemory = {{ base_mb = 100 }}\n"),
            head_lines + 4,
            "missing field `limit_mb`",
            None,
        ),
        c(
            "a negative leak",
            format!("{HEAD}[[service]]\nname = \"api\"\nservice_time = {{ dist = \"constant\", value = \"1ms\" }}\nmemory = {{ limit_mb = 512, leak_mb_per_s = -1 }}\n"),
            head_lines + 4,
            "leak_mb_per_s must be at least 0 and at most 1,000,000,000, not -1",
            Some("sizes are in megabytes"),
        ),
        c(
            "a clock skew of nothing",
            format!("{HEAD}{GOOD_SERVICE}\n[[fault]]\nkind = \"clock-skew\"\nservice = \"api\"\nstart = \"1s\"\nduration = \"10s\"\noffset_s = 0\n"),
            head_lines + 10,
            "offset_s must be non-zero and within a billion seconds, not 0",
            Some("offset_s = 90 sets the clocks 90 s ahead"),
        ),
        c(
            "a failover with a duration",
            format!("{HEAD}{GOOD_SERVICE}\n[[fault]]\nkind = \"db-failover\"\nservice = \"api\"\nstart = \"1s\"\nduration = \"10s\"\n"),
            head_lines + 9,
            "a failover lasts its failover_time",
            Some("draws it per run (default 30 s)"),
        ),
        c(
            "a dns fault on a zone",
            format!("[scenario]\nname = \"bad\"\nduration = \"1m\"\n\n[[region]]\nname = \"r\"\nzones = [\"a\"]\n\n[[workload]]\nname = \"w\"\narrival = {{ process = \"poisson\", rate_per_s = 10 }}\n\n[[workload.request]]\nname = \"get\"\ntarget = \"api\"\n\n{GOOD_SERVICE}\n[[fault]]\nkind = \"dns\"\nzone = \"a\"\nstart = \"1s\"\nduration = \"10s\"\n"),
            21,
            "a dns fault is aimed at a service's name",
            Some("service = \"db\": the name its callers resolve"),
        ),
        c(
            "an unknown dns answer",
            format!("{HEAD}{GOOD_SERVICE}\n[[fault]]\nkind = \"dns\"\nservice = \"api\"\nstart = \"1s\"\nduration = \"10s\"\nanswer = \"timeout\"\n"),
            head_lines + 10,
            "unknown variant `timeout`",
            Some("blackhole"),
        ),
        c(
            "a token valid for nothing",
            HEAD.replace("target = \"api\"\n", "target = \"api\"\ntoken = { validity = \"0s\" }\n") + GOOD_SERVICE,
            12,
            "a token's validity must be above 0",
            Some("valid for five minutes"),
        ),
        c(
            "a deployment that changes nothing",
            format!("{HEAD}{GOOD_SERVICE}\n[[fault]]\nkind = \"deployment\"\nservice = \"api\"\nstart = \"1s\"\n"),
            head_lines + 5,
            "the new version changes nothing",
            Some("give it slowdown, error_percent, crash_percent or capacity_percent"),
        ),
        c(
            "deployment waves larger than the service",
            format!("{HEAD}{GOOD_SERVICE}\n[[fault]]\nkind = \"deployment\"\nservice = \"api\"\nstart = \"1s\"\nerror_percent = 10\nwaves = [1, 2]\n"),
            head_lines + 10,
            "waves must each take at least one of the 1 instances, 1 in all at most, not [1, 2]",
            Some("waves = [1, 2, 5]"),
        ),
        c(
            "a rollback without an alarm",
            format!("{HEAD}{GOOD_SERVICE}\n[[fault]]\nkind = \"deployment\"\nservice = \"api\"\nstart = \"1s\"\nslowdown = 3\nrollback = \"5m\"\n"),
            head_lines + 10,
            "a rollback follows an alarm, and there is none",
            Some("alarm = { error_rate = 0.02 }"),
        ),
        c(
            "a deployment that repeats",
            format!("{HEAD}{GOOD_SERVICE}\n[[fault]]\nkind = \"deployment\"\nservice = \"api\"\nstart = \"1s\"\nduration = \"5s\"\nslowdown = 3\nevery = \"10s\"\n"),
            head_lines + 11,
            "a deployment rolls out once",
            Some("its waves are its steps"),
        ),
        c(
            "a deployment alarm out of range",
            format!("{HEAD}{GOOD_SERVICE}\n[[fault]]\nkind = \"deployment\"\nservice = \"api\"\nstart = \"1s\"\nslowdown = 3\nalarm = {{ error_rate = 5 }}\n"),
            head_lines + 10,
            "error_rate is a share from 0 to 1, not 5",
            Some("0.05 is 5% of jobs failing"),
        ),
        c(
            "an io pause on a service without io",
            format!("{HEAD}{GOOD_SERVICE}\n[[fault]]\nkind = \"io-pause\"\nservice = \"api\"\nstart = \"1s\"\nduration = \"10s\"\n"),
            head_lines + 5,
            "io-pause faults act on a volume's IO, and service api has no io",
            Some("give api its IO phase"),
        ),
        c(
            "a volume without devices",
            format!("{HEAD}[[service]]\nname = \"api\"\nservice_time = {{ dist = \"constant\", value = \"1ms\" }}\nio = {{ time = {{ dist = \"constant\", value = \"1ms\" }}, devices = 0 }}\n"),
            head_lines + 4,
            "devices must be from 1 to 1024, not 0",
            Some("1 is a single queue"),
        ),
        c(
            "an io latency of nothing",
            format!("{HEAD}[[service]]\nname = \"api\"\nservice_time = {{ dist = \"constant\", value = \"1ms\" }}\nio = {{ time = {{ dist = \"constant\", value = \"1ms\" }} }}\n\n[[fault]]\nkind = \"io-latency\"\nservice = \"api\"\nstart = \"1s\"\nduration = \"10s\"\nslow_percent = 10\n"),
            head_lines + 6,
            "io-latency faults need a latency above 0",
            Some("latency = \"50ms\" with slow_percent = 10"),
        ),
        c(
            "an http fault that does nothing",
            format!("{HEAD}{GOOD_SERVICE}\n[[fault]]\nkind = \"http-fault\"\nservice = \"api\"\nstart = \"1s\"\nduration = \"10s\"\nclass = \"unavailable\"\n"),
            head_lines + 5,
            "http-fault faults need error_percent",
            Some("latency = \"200ms\" with slow_percent = 10"),
        ),
        c(
            "an io stress without its load",
            format!("{HEAD}[[service]]\nname = \"api\"\nservice_time = {{ dist = \"constant\", value = \"1ms\" }}\nio = {{ time = {{ dist = \"constant\", value = \"1ms\" }} }}\n\n[[fault]]\nkind = \"io-stress\"\nservice = \"api\"\nstart = \"1s\"\nduration = \"10s\"\n"),
            head_lines + 6,
            "io-stress faults need load_percent",
            Some("load_percent = 50 makes every IO take twice as long"),
        ),
        c(
            "a dns ttl without a unit",
            format!("{HEAD}[[service]]\nname = \"api\"\nservice_time = {{ dist = \"constant\", value = \"1ms\" }}\ndns_ttl = 60\n"),
            head_lines + 4,
            "`60` has no unit",
            None,
        ),
        c(
            "a deployment taking capacity from an autoscaled service",
            format!("{HEAD}{GOOD_SERVICE}autoscaling = {{ kind = \"hpa\", min = 1, max = 4, target_utilisation = 50 }}\n\n[[fault]]\nkind = \"deployment\"\nservice = \"api\"\nstart = \"1s\"\ncapacity_percent = 50\n"),
            head_lines + 10,
            "a deployment cannot take capacity out of service in an autoscaled service",
            Some("model the change's capacity loss with a stop fault instead"),
        ),
        c(
            "a deployment with a random pick",
            format!("{HEAD}{GOOD_SERVICE}\n[[fault]]\nkind = \"deployment\"\nservice = \"api\"\nstart = \"1s\"\nslowdown = 2\ncount = 1\n"),
            head_lines + 10,
            "a deployment takes its units by its waves",
            Some("units in no wave keep the old version"),
        ),
        c(
            "a collection's pause of a day",
            format!("{HEAD}[[service]]\nname = \"api\"\nservice_time = {{ dist = \"constant\", value = \"1ms\" }}\nmemory = {{ limit_mb = 512, gc_pause = \"1d\" }}\n"),
            head_lines + 4,
            "gc_pause must be at most 1h00m00.000s, not 24h00m00.000s",
            Some("gc_pause = \"5ms\""),
        ),
        c(
            "an impairment factor below 1",
            format!("{HEAD}{GOOD_SERVICE}\n[analysis]\np99_factor = 0.5\n"),
            head_lines + 6,
            "p99_factor must be from 1 to 1000, not 0.5",
            Some("the default, 1.5"),
        ),
        c("negative rate", HEAD.replace("rate_per_s = 10", "rate_per_s = -5") + GOOD_SERVICE, 7, "rate_per_s must be positive, not -5", None),
        c(
            "p99 below the median",
            format!("{HEAD}[[service]]\nname = \"api\"\nservice_time = {{ dist = \"lognormal\", median = \"10ms\", p99 = \"5ms\" }}\n"),
            head_lines + 3,
            "the p99 (5.000ms) must be above the median (10.000ms)",
            None,
        ),
        c("duration without a unit", HEAD.replace("duration = \"1m\"", "duration = 60") + GOOD_SERVICE, 3, "`60` has no unit", None),
        c("unknown unit", HEAD.replace("duration = \"1m\"", "duration = \"1 fortnight\"") + GOOD_SERVICE, 3, "unknown unit `fortnight`", None),
        c("missing service time", format!("{HEAD}[[service]]\nname = \"api\"\n"), head_lines + 2, "the service has no service_time", Some("add service_time = ")),
        c(
            "misspelt distribution",
            format!("{HEAD}[[service]]\nname = \"api\"\nservice_time = {{ dist = \"exponental\", mean = \"5ms\" }}\n"),
            head_lines + 3,
            "unknown variant `exponental`",
            Some("did you mean `exponential`?"),
        ),
        c(
            "missing distribution parameter",
            format!("{HEAD}[[service]]\nname = \"api\"\nservice_time = {{ dist = \"exponential\", median = \"5ms\" }}\n"),
            head_lines + 3,
            "an exponential distribution needs `mean`",
            Some("e.g. { dist = \"exponential\", mean = \"10ms\" }"),
        ),
        c("zero workers", format!("{HEAD}{GOOD_SERVICE}workers = 0\n"), head_lines + 4, "workers must be at least 1", None),
        c("duplicate service", format!("{HEAD}{GOOD_SERVICE}\n{GOOD_SERVICE}"), head_lines + 6, "service `api` is defined twice", None),
        c("warm-up longer than the run", HEAD.replace("duration = \"1m\"", "duration = \"1m\"\nwarmup = \"2m\"") + GOOD_SERVICE, 4, "warmup must be shorter than duration", None),
        c("TOML syntax error", format!("{HEAD}{GOOD_SERVICE}workers = = 4\n"), head_lines + 4, "", None),
        c(
            "unknown request type in for_types",
            format!("{HEAD}{GOOD_SERVICE}\n[[service.call]]\nto = \"db\"\nfor_types = [\"gte\"]\n\n[[service]]\nname = \"db\"\nservice_time = {{ dist = \"constant\", value = \"1ms\" }}\n"),
            head_lines + 7,
            "no workload has a request type named `gte`",
            Some("did you mean `get`?"),
        ),
        c(
            "split parallel group",
            format!("{HEAD}{GOOD_SERVICE}\n[[service.call]]\nto = \"db\"\nname = \"a\"\ngroup = \"g\"\n\n[[service.call]]\nto = \"db\"\nname = \"b\"\n\n[[service.call]]\nto = \"db\"\nname = \"c\"\ngroup = \"g\"\n\n[[service]]\nname = \"db\"\nservice_time = {{ dist = \"constant\", value = \"1ms\" }}\n"),
            head_lines + 17,
            "group `g` is split by other calls",
            None,
        ),
        c(
            "two calls to one service without names",
            format!("{HEAD}{GOOD_SERVICE}\n[[service.call]]\nto = \"db\"\n\n[[service.call]]\nto = \"db\"\n\n[[service]]\nname = \"db\"\nservice_time = {{ dist = \"constant\", value = \"1ms\" }}\n"),
            head_lines + 9,
            "service `api` already has a call named `db`",
            Some("two calls to one service need different names: add `name = \"...\"` to one of them"),
        ),
        c(
            "two calls with one name",
            format!("{HEAD}{GOOD_SERVICE}\n[[service.call]]\nto = \"db\"\nname = \"read\"\n\n[[service.call]]\nto = \"cache\"\nname = \"read\"\n\n[[service]]\nname = \"db\"\nservice_time = {{ dist = \"constant\", value = \"1ms\" }}\n\n[[service]]\nname = \"cache\"\nservice_time = {{ dist = \"constant\", value = \"1ms\" }}\n"),
            head_lines + 11,
            "service `api` already has a call named `read`",
            Some("(it names the call's random streams)"),
        ),
        c("schedule out of order", HEAD.replace("{ process = \"poisson\", rate_per_s = 10 }", "{ process = \"schedule\", steps = [{ at = \"1m\", rate_per_s = 5 }, { at = \"0s\", rate_per_s = 5 }] }") + GOOD_SERVICE, 7, "steps must be in strictly increasing order", None),
        c("empty file", String::new(), 1, "missing field `scenario`", Some("every scenario starts with a [scenario] table")),
        cell_case("a template calling a service that is not in it nor shared", "to = \"db\"", "to = \"dbx\"", "no service is named `dbx`", Some("did you mean `db`?")),
        cell_case("a cell spanning a zone that does not exist", "zones = [\"a\", \"b\"]\n", "zones = [\"a\", \"z9\"]\n", "no zone is named `z9`", None),
        cell_case("a shard larger than the cells", "kind = \"hash\"", "kind = \"shuffle-shard\", shard_size = 4", "shard_size must be from 1 to 3", Some("a shard is a few of the cells")),
        cell_case("zero cells", "count = 3", "count = 0", "count must be from 1 to 1000, not 0", Some("count = 8 makes cell-1 to cell-8")),
        cell_case("a request straight into a cell", "target = \"router\"", "target = \"api\"", "`api` is a cell service: requests reach cells through a router", Some("routing")),
        {
            let toml = CELLS.replace("routing = { kind = \"hash\" }\n", "");
            let line = toml[..toml.find("to = \"api\"").unwrap()].lines().count() + 1;
            let message = "`router` is shared and `api` is a cell service: only a router calls into cells";
            c("a shared service calling into the cells", toml, line, message, Some("add `routing"))
        },
        {
            // Found by fuzz-compile (fuzz/seeds/cells-undeclared-template.toml): a router
            // calling a template service that is not declared panicked.
            let toml = CELLS.replace("services = [\"api\", \"db\"]", "services = [\"api\", \"db\", \"ghost\"]").replacen("to = \"api\"", "to = \"ghost\"", 1);
            let line = toml[..toml.find("\"ghost\"]").unwrap()].lines().count();
            c("a router calling an undeclared template service", toml, line, "no service is named `ghost`", None)
        },
        cell_case(
            "a fallback cell that is a routed cell",
            "routing = { kind = \"hash\" }",
            "routing = { kind = \"hash\", breaker = { kind = \"resilience4j\" }, fallback = \"cell-2\" }",
            "`cell-2` is a routed cell: a fallback cell takes no customers of its own",
            Some("declare [cells.fallback]"),
        ),
        {
            let link = |lines: &str| CELLS.replace("kind = \"outage\"\ncell = \"cell-2\"", lines);
            let line_of = |toml: &str, text: &str| toml[..toml.find(text).unwrap()].lines().count() + 1;
            let toml = link("kind = \"partition\"\nfrom = \"cell-2\"");
            let line = line_of(&toml, "from = ");
            c("a link side without its kind", toml, line, "`cell-2` names no kind of place", Some("a kind, a space and a name"))
        },
        {
            let toml = CELLS.replace("kind = \"outage\"\ncell = \"cell-2\"", "kind = \"partition\"\nfrom = \"cell cell-2\"\nto = \"region r\"");
            let line = toml[..toml.find("to = \"region r\"").unwrap()].lines().count() + 1;
            let message = "the link's sides overlap: a message inside both would cross it";
            c("a link whose sides overlap", toml, line, message, Some("two separate places"))
        },
        cell_case("a fault at a cell that does not exist", "cell = \"cell-2\"", "cell = \"cell-7\"", "no cell is named `cell-7`", Some("did you mean")),
        c("no workload", format!("[scenario]\nname = \"x\"\nduration = \"1m\"\n\n{GOOD_SERVICE}"), 1, "the scenario has no [[workload]]", None),
    ]
}

#[test]
fn each_malformed_scenario_is_rejected_at_its_line_with_its_message() {
    for case in cases() {
        let errors = match cellsim_models::compile("bad.toml", &case.toml) {
            Ok(_) => panic!("{}: accepted a malformed scenario:\n{}", case.name, case.toml),
            Err(e) => e,
        };
        let e = &errors[0];
        let text = e.to_string();
        assert!(e.message.contains(case.message), "{}: message was {text}", case.name);
        assert_eq!(e.line, case.line, "{}: wrong line in\n{text}", case.name);
        assert!(text.starts_with(&format!("error: bad.toml:{}:", case.line)), "{}: {text}", case.name);
        if let Some(hint) = case.hint {
            assert!(e.hint.as_deref().unwrap_or("").contains(hint), "{}: hint was {:?}", case.name, e.hint);
        }
    }
}

#[test]
fn semantic_errors_are_all_reported_at_once() {
    let toml = format!("{HEAD}[[service]]\nname = \"api\"\nworkers = 0\ninstances = 0\nservice_time = {{ dist = \"exponential\", mean = \"5ms\" }}\n");
    let errors = cellsim_models::compile("bad.toml", &toml).unwrap_err();
    let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(messages, vec!["instances must be at least 1", "workers must be at least 1"]);
}

#[test]
fn a_repeated_call_name_is_reported_at_the_second_call_only() {
    let db = "[[service]]\nname = \"db\"\nservice_time = { dist = \"constant\", value = \"1ms\" }\n";
    // Without names, at the second call's `to`; with a name, at that name.
    for (second, column, width) in [("to = \"db\"\n", 6, 4), ("to = \"db\"\nname = \"db\"\n", 8, 4)] {
        let toml = format!("{HEAD}{GOOD_SERVICE}\n[[service.call]]\nto = \"db\"\n\n[[service.call]]\n{second}\n{db}");
        let errors = cellsim_models::compile("bad.toml", &toml).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        let e = &errors[0];
        assert_eq!(e.field.as_deref(), Some("service.api.call[1].name"));
        assert_eq!(e.message, "service `api` already has a call named `db`");
        assert_eq!(
            e.hint.as_deref(),
            Some("two calls to one service need different names: add `name = \"...\"` to one of them (it names the call's random streams)")
        );
        assert_eq!((e.line, e.column, e.width), (HEAD.lines().count() + 3 + second.lines().count() + 5, column, width));
    }
    // Named apart, two calls to one service are fine.
    let named = format!("{HEAD}{GOOD_SERVICE}\n[[service.call]]\nto = \"db\"\n\n[[service.call]]\nto = \"db\"\nname = \"again\"\n\n{db}");
    let spec = cellsim_models::compile("ok.toml", &named).unwrap();
    let names: Vec<&str> = spec.calls.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["workload/w/get", "service/api/op/default/call/db", "service/api/op/default/call/again"]);
}

#[test]
fn the_command_line_exits_2_on_bad_input_and_writes_nothing() {
    let scratch = temp_dir("bad");
    let dir = scratch.path();
    for (i, case) in cases().into_iter().enumerate() {
        let file = dir.join(format!("case{i}.toml"));
        std::fs::write(&file, &case.toml).unwrap();
        let out_dir = dir.join(format!("out{i}"));
        for args in [
            vec!["validate".into(), file.display().to_string()],
            vec!["run".into(), file.display().to_string(), "--out".into(), out_dir.display().to_string()],
        ] {
            let out = cellsim(&args);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{}: {args:?} exit code; stderr: {stderr}", case.name);
            assert!(stderr.contains(&format!("case{i}.toml:{}:", case.line)), "{}: stderr: {stderr}", case.name);
            assert!(!stderr.contains("panicked"), "{}: {stderr}", case.name);
        }
        assert!(
            !out_dir.exists() || std::fs::read_dir(&out_dir).unwrap().next().is_none(),
            "{}: output written",
            case.name
        );
    }
    // A file that cannot be read is the environment's failure (3: retrying may help).
    let missing = cellsim(["run", "/nonexistent/x.toml"]);
    assert_eq!(missing.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/x.toml: cannot read the file"));
}
