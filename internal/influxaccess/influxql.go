package influxaccess

import (
	"github.com/influxdata/influxql"
)

// defaults are the database and retention policy a statement uses when it names none: db and rp
// of the request.
type defaults struct{ db, rp string }

// names are the databases a statement's database and retention policy address, falling back to
// the request's; a statement that names no database in a request without db cannot be mapped.
func (d defaults) names(db, rp string) ([]string, error) {
	if db == "" {
		db = d.db
	}
	if rp == "" {
		rp = d.rp
	}
	if db == "" {
		return nil, errorf("a statement names no database and the request has no db")
	}
	return dbrpNames(db, rp), nil
}

// influxQLNeed parses q as InfluxDB does and maps every statement: SELECT and SHOW of one
// database's data are reads, SELECT INTO also writes its target, anything else (DROP, DELETE,
// CREATE, ALTER, GRANT, REVOKE, KILL, SHOW DATABASES, SHOW USERS, …) needs an admin token. All
// statements must pass.
func influxQLNeed(q, db, rp string) (Need, error) {
	query, err := influxql.ParseQuery(q)
	if err != nil {
		return Need{}, errorf("q is not valid InfluxQL")
	}
	if len(query.Statements) == 0 {
		return Need{}, errorf("q has no statement")
	}
	d := defaults{db, rp}
	var n Need
	for _, st := range query.Statements {
		sn, err := d.statementNeed(st)
		if err != nil {
			return Need{}, err
		}
		n.merge(sn)
	}
	return n, nil
}

func (d defaults) statementNeed(st influxql.Statement) (Need, error) {
	switch s := st.(type) {
	case *influxql.SelectStatement:
		return d.selectNeed(s)
	case *influxql.ExplainStatement:
		return d.selectNeed(s.Statement)
	case *influxql.ShowMeasurementsStatement:
		return d.readNeed(s.Database, influxql.Sources{s.Source})
	case *influxql.ShowRetentionPoliciesStatement, *influxql.ShowTagKeysStatement,
		*influxql.ShowTagValuesStatement, *influxql.ShowFieldKeysStatement,
		*influxql.ShowSeriesStatement, *influxql.ShowSeriesCardinalityStatement,
		*influxql.ShowMeasurementCardinalityStatement, *influxql.ShowTagKeyCardinalityStatement,
		*influxql.ShowTagValuesCardinalityStatement, *influxql.ShowFieldKeyCardinalityStatement:
		// The SHOW statements of one database's data: its ON database (DefaultDatabase) and the
		// measurements it is FROM.
		return d.readNeed(s.(influxql.HasDefaultDatabase).DefaultDatabase(), fromClause(s))
	}
	return Need{Admin: true}, nil
}

// fromClause lists the measurements a SHOW statement's FROM clause names (influxql.Walk visits
// the statement's Sources; its WHERE condition names none).
func fromClause(st influxql.Statement) influxql.Sources {
	var from influxql.Sources
	influxql.WalkFunc(st, func(n influxql.Node) {
		if m, ok := n.(*influxql.Measurement); ok {
			from = append(from, m)
		}
	})
	return from
}

// readNeed is a read of the statement's database (its ON clause or the default) and of every
// database its sources name.
func (d defaults) readNeed(db string, sources influxql.Sources) (Need, error) {
	names, err := d.names(db, "")
	if err != nil {
		return Need{}, err
	}
	n := databasesNeed(names, ActionRead)
	sn, err := d.sourcesNeed(sources)
	n.merge(sn)
	return n, err
}

// selectNeed reads every source (subqueries included) and writes the INTO target.
func (d defaults) selectNeed(s *influxql.SelectStatement) (Need, error) {
	if s == nil {
		return Need{Admin: true}, nil
	}
	n, err := d.sourcesNeed(s.Sources)
	if err != nil {
		return Need{}, err
	}
	if s.Target != nil {
		if s.Target.Measurement == nil {
			return Need{Admin: true}, nil
		}
		names, err := d.names(s.Target.Measurement.Database, s.Target.Measurement.RetentionPolicy)
		if err != nil {
			return Need{}, err
		}
		n.merge(databasesNeed(names, ActionWrite))
	}
	return n, nil
}

func (d defaults) sourcesNeed(sources influxql.Sources) (Need, error) {
	var n Need
	for _, src := range sources {
		switch s := src.(type) {
		case nil:
		case *influxql.Measurement:
			names, err := d.names(s.Database, s.RetentionPolicy)
			if err != nil {
				return Need{}, err
			}
			n.merge(databasesNeed(names, ActionRead))
		case *influxql.SubQuery:
			sn, err := d.selectNeed(s.Statement)
			if err != nil {
				return Need{}, err
			}
			n.merge(sn)
		default:
			n.Admin = true
		}
	}
	return n, nil
}
