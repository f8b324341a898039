package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"lindungi/accounts"
	"lindungi/config"
)

// cliActor names whoever runs these commands in the audit log: they hold
// the host (and the data directory), not an account.
const cliActor = "system:cli"

const userUsage = "usage: lindungi user add --role ROLE NAME | user list | user disable NAME | user enable NAME | user reset-password NAME"

// cmdUserManage is `lindungi user list|disable|enable|reset-password`
// (`user add` stays in cmdUser).
func cmdUserManage(ctx context.Context, cfg config.Config, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%s", userUsage)
	}
	sub, rest := args[0], args[1:]
	want := map[string]int{"list": 0, "disable": 1, "enable": 1, "reset-password": 1}
	if n, ok := want[sub]; !ok || len(rest) != n {
		return fmt.Errorf("%s", userUsage)
	}
	acc, done, err := openAccounts(ctx, cfg)
	if err != nil {
		return err
	}
	defer done()
	switch sub {
	case "list":
		us, err := acc.Users(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tROLE\tSTATUS\tTOKENS\tCREATED")
		for _, u := range us {
			st := "active"
			if u.Disabled {
				st = "disabled"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", u.Name, u.Role, st, u.Tokens, u.CreatedAt.Format(time.DateOnly))
		}
		return tw.Flush()
	case "disable", "enable":
		if _, err := acc.SetDisabled(ctx, cliActor, rest[0], sub == "disable"); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "user %s %sd\n", rest[0], sub)
		return nil
	case "reset-password":
		pw, err := acc.ResetPassword(ctx, cliActor, rest[0])
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "user: %s\npassword: %s\n", rest[0], pw)
		return nil
	}
	return fmt.Errorf("%s", userUsage)
}

const tokenUsage = "usage: lindungi token list [--user NAME] | token add NAME | token revoke ID"

// cmdToken is `lindungi token list|add|revoke`. Tokens expire after
// accounts.token_ttl; `token add` gives a user a new one.
func cmdToken(ctx context.Context, cfg config.Config, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%s", tokenUsage)
	}
	sub := args[0]
	fs := flag.NewFlagSet("token "+sub, flag.ContinueOnError)
	user := fs.String("user", "", "only this user's tokens")
	if err := fs.Parse(reorder(args[1:])); err != nil {
		return err
	}
	want := map[string]int{"list": 0, "add": 1, "revoke": 1}
	n, ok := want[sub]
	if !ok || fs.NArg() != n || (sub != "list" && *user != "") {
		return fmt.Errorf("%s", tokenUsage)
	}
	acc, done, err := openAccounts(ctx, cfg)
	if err != nil {
		return err
	}
	defer done()
	switch sub {
	case "list":
		ts, err := acc.Tokens(ctx, *user)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tUSER\tCREATED\tEXPIRES")
		for _, t := range ts {
			exp := "never"
			if t.ExpiresAt != nil {
				exp = t.ExpiresAt.Format(time.DateOnly)
				if t.Expired {
					exp += " (expired)"
				}
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", t.ID, t.User, t.CreatedAt.Format(time.DateOnly), exp)
		}
		return tw.Flush()
	case "add":
		t, secret, err := acc.AddToken(ctx, cliActor, fs.Arg(0))
		if err != nil {
			return err
		}
		exp := "never"
		if t.ExpiresAt != nil {
			exp = t.ExpiresAt.Format(time.DateOnly)
		}
		fmt.Fprintf(stdout, "user: %s\ntoken id: %d\nexpires: %s\ntoken: %s\n", t.User, t.ID, exp, secret)
		return nil
	default: // revoke
		id, err := strconv.ParseInt(fs.Arg(0), 10, 64)
		if err != nil {
			return fmt.Errorf("token ID %q is not a number (see lindungi token list)", fs.Arg(0))
		}
		if err := acc.RevokeToken(ctx, cliActor, id); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "token %d revoked\n", id)
		return nil
	}
}

// openAccounts opens the database for an account command; done closes it.
func openAccounts(ctx context.Context, cfg config.Config) (*accounts.Store, func(), error) {
	db, _, err := openStore(ctx, cfg, nil)
	if err != nil {
		return nil, nil, err
	}
	acc := accounts.New(db)
	acc.TokenTTL = cfg.Accounts.TokenTTL.D()
	return acc, func() { db.Close() }, nil
}
