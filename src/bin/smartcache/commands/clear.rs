//! `smartcache clear`: deletes every entry, of one namespace or of all. Asks first on a
//! terminal; elsewhere it needs `--yes`.

use std::io::{BufRead, IsTerminal, Write};

use smartcache::admin::Storage;

use super::{namespaces, note_not_walked};
use crate::Failure;

pub fn run(storage: &Storage, only: Option<&str>, yes: bool) -> Result<(), Failure> {
    let picked = namespaces(storage, only)?;
    if picked.is_empty() {
        println!("nothing to clear under {}", storage.root().display());
        return Ok(());
    }
    let what = match only {
        Some(name) => format!("every entry of {name}"),
        None => format!(
            "every entry of {} namespaces under {}",
            picked.len(),
            storage.root().display()
        ),
    };
    if !yes {
        if !std::io::stdin().is_terminal() {
            return Err(Failure::Error(format!(
                "refusing to delete {what} without --yes (not on a terminal, so there is no one to ask)"
            )));
        }
        print!("Delete {what}? [y/N] ");
        std::io::stdout().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            println!("nothing deleted");
            return Ok(());
        }
    }
    let mut skipped = false;
    for namespace in &picked {
        let walk = namespace.clear()?;
        if note_not_walked(namespace, &walk) {
            skipped = true;
            println!("cleared {} in part (see above)", namespace.name());
        } else {
            println!("cleared {}", namespace.name());
        }
    }
    if skipped {
        Err(Failure::Problems)
    } else {
        Ok(())
    }
}
