//! The DAX function registry: one entry per function, with its arity, family, a one-line example and how it
//! lowers. The binder checks calls against it (arity, "did you mean"), scalar functions render from their SQL
//! template, and `docs/dax.md` is generated from it (`omnimarket dax-reference`; a test keeps the page current).
//!
//! Adding a function: one entry here. A scalar function whose SQL is a template needs nothing else; one that
//! changes the filter context or iterates gets a case in the binder (`Lowering::Special`) and, where it needs new
//! SQL, in the planner.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Aggregation,
    Iterator,
    Filter,
    Table,
    TimeIntelligence,
    Information,
    Logical,
    Math,
    Text,
    Date,
}

impl Family {
    pub fn title(self) -> &'static str {
        match self {
            Family::Aggregation => "Aggregations",
            Family::Iterator => "Iterators (X functions and ranking)",
            Family::Filter => "Filter context (CALCULATE and its modifiers)",
            Family::Table => "Table functions",
            Family::TimeIntelligence => "Time intelligence",
            Family::Information => "Information",
            Family::Logical => "Logical",
            Family::Math => "Math",
            Family::Text => "Text",
            Family::Date => "Date",
        }
    }
    pub const ALL: [Family; 10] = [
        Family::Aggregation,
        Family::Iterator,
        Family::Filter,
        Family::Table,
        Family::TimeIntelligence,
        Family::Information,
        Family::Logical,
        Family::Math,
        Family::Text,
        Family::Date,
    ];
}

/// The type a scalar function returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returns {
    Number,
    Text,
    Bool,
    Date,
    /// The type of the first argument (MAX(a, b), COALESCE).
    FirstArgument,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lowering {
    /// A scalar function: SQL with `{0}`, `{1}`, ... for the arguments, one template per argument count from
    /// `min_args` up (the last one also serves any further count for variadic functions, see `variadic`).
    Sql(&'static [&'static str], Returns),
    /// Lowered by a case of the binder (it reads tables, changes the context or iterates).
    Special,
}

#[derive(Debug, Clone, Copy)]
pub struct Function {
    pub name: &'static str,
    pub min_args: usize,
    /// `usize::MAX` for any number.
    pub max_args: usize,
    pub family: Family,
    pub summary: &'static str,
    pub example: &'static str,
    pub lowering: Lowering,
}

const ANY: usize = usize::MAX;

const fn special(name: &'static str, min_args: usize, max_args: usize, family: Family, summary: &'static str, example: &'static str) -> Function {
    Function { name, min_args, max_args, family, summary, example, lowering: Lowering::Special }
}

#[allow(clippy::too_many_arguments)]
const fn sql(
    name: &'static str,
    min_args: usize,
    max_args: usize,
    family: Family,
    templates: &'static [&'static str],
    returns: Returns,
    summary: &'static str,
    example: &'static str,
) -> Function {
    Function { name, min_args, max_args, family, summary, example, lowering: Lowering::Sql(templates, returns) }
}

use Family::*;

/// Every supported function. Keep each family together; the reference page lists them in this order.
pub const FUNCTIONS: &[Function] = &[
    // ------------------------------------------------------------------ aggregations
    special("SUM", 1, 1, Aggregation, "Sum of a numeric column over the rows in context.", "SUM(Fait_Ventes[Montant_TTC])"),
    special("AVERAGE", 1, 1, Aggregation, "Mean of the non-blank values of a column.", "AVERAGE(Fait_Ventes[Marge])"),
    special("MIN", 1, 2, Aggregation, "Smallest value of a column; with two arguments, the smaller of two values.", "MIN(Fait_Ventes[Montant_TTC])"),
    special("MAX", 1, 2, Aggregation, "Largest value of a column; with two arguments, the larger of two values.", "MAX(Dim_Temps[Date_Complete])"),
    special("COUNT", 1, 1, Aggregation, "Non-blank values of a column.", "COUNT(Fait_Ventes[ID_Promotion])"),
    special("COUNTA", 1, 1, Aggregation, "Non-blank values of a column of any type.", "COUNTA(Dim_Client[Ville])"),
    special("COUNTBLANK", 1, 1, Aggregation, "Blank values of a column.", "COUNTBLANK(Fait_Ventes[ID_Promotion])"),
    special("COUNTROWS", 0, 1, Aggregation, "Rows of a table expression (BLANK when none).", "COUNTROWS(Fait_Ventes)"),
    special("DISTINCTCOUNT", 1, 1, Aggregation, "Distinct values of a column, BLANK counted as a value.", "DISTINCTCOUNT(Fait_Ventes[ID_Client])"),
    special("DISTINCTCOUNTNOBLANK", 1, 1, Aggregation, "Distinct non-blank values of a column.", "DISTINCTCOUNTNOBLANK(Fait_Ventes[ID_Client])"),
    // ------------------------------------------------------------------ iterators
    special(
        "SUMX",
        2,
        2,
        Iterator,
        "Sum of an expression evaluated for each row of a table.",
        "SUMX(Fait_Ventes, Fait_Ventes[Quantite] * RELATED(Dim_Produit[Prix_Unitaire]))",
    ),
    special(
        "AVERAGEX",
        2,
        2,
        Iterator,
        "Mean of an expression over a table's rows (blanks ignored).",
        "AVERAGEX(VALUES(Dim_Client[ID_Client]), [CA_Total])",
    ),
    special("MINX", 2, 2, Iterator, "Smallest value of an expression over a table's rows.", "MINX(VALUES(Dim_Temps[Mois]), [CA_Total])"),
    special("MAXX", 2, 2, Iterator, "Largest value of an expression over a table's rows.", "MAXX(Dim_Canal, [CA_Total])"),
    special("COUNTX", 2, 2, Iterator, "Rows where an expression is not blank.", "COUNTX(Fait_Ventes, Fait_Ventes[ID_Promotion])"),
    special("COUNTAX", 2, 2, Iterator, "Rows where an expression is not blank (any type).", "COUNTAX(Dim_Client, Dim_Client[Ville])"),
    special(
        "PRODUCTX",
        2,
        2,
        Iterator,
        "Product of an expression over a table's rows.",
        "PRODUCTX(VALUES(Dim_Temps[Annee]), 1 + [Evolution_CA_YoY])",
    ),
    special(
        "CONCATENATEX",
        2,
        5,
        Iterator,
        "Values of an expression joined by a delimiter, optionally ordered.",
        "CONCATENATEX(VALUES(Dim_Canal[Nom_Canal]), Dim_Canal[Nom_Canal], \", \", Dim_Canal[Nom_Canal], ASC)",
    ),
    special(
        "RANKX",
        2,
        5,
        Iterator,
        "Rank of the current value among an expression's values over a table (ASC/DESC, SKIP/DENSE).",
        "RANKX(ALL(Dim_Produit[Nom_Produit]), [CA_Total], , DESC, DENSE)",
    ),
    special(
        "RELATED",
        1,
        1,
        Iterator,
        "In a row context, the value of a column of a table on the one side.",
        "SUMX(Fait_Ventes, RELATED(Dim_Produit[Prix_Unitaire]))",
    ),
    special(
        "RELATEDTABLE",
        1,
        1,
        Iterator,
        "In a row context, the rows of a many-side table related to the current row.",
        "SUMX(Dim_Produit, COUNTROWS(RELATEDTABLE(Fait_Ventes)))",
    ),
    // ------------------------------------------------------------------ filter context
    special(
        "CALCULATE",
        1,
        ANY,
        Filter,
        "Evaluates an expression in a filter context modified by its filter arguments.",
        "CALCULATE([CA_Total], Dim_Canal[Nom_Canal] IN { \"Web\", \"Mobile\" })",
    ),
    special(
        "CALCULATETABLE",
        1,
        ANY,
        Filter,
        "A table expression in a modified filter context.",
        "COUNTROWS(CALCULATETABLE(Fait_Ventes, Dim_Canal[Nom_Canal] = \"Web\"))",
    ),
    special(
        "FILTER",
        2,
        2,
        Filter,
        "The rows of a table for which a condition holds.",
        "CALCULATE([CA_Total], FILTER(Dim_Produit, Dim_Produit[Categorie] = \"Mode\"))",
    ),
    special(
        "ALL",
        1,
        ANY,
        Filter,
        "As a filter, removes the filters of a table or columns; as a table, all their values.",
        "CALCULATE([CA_Total], ALL(Dim_Produit))",
    ),
    special(
        "ALLEXCEPT",
        2,
        ANY,
        Filter,
        "Removes every filter of a table except those on the listed columns.",
        "CALCULATE([CA_Total], ALLEXCEPT(Dim_Temps, Dim_Temps[Annee]))",
    ),
    special(
        "ALLSELECTED",
        1,
        ANY,
        Filter,
        "Keeps the query's filters and drops the current row's group-by values.",
        "CALCULATE([CA_Total], ALLSELECTED(Dim_Produit))",
    ),
    special("ALLNOBLANKROW", 1, ANY, Filter, "As ALL, without the BLANK member of orphan keys.", "CALCULATE([CA_Total], ALLNOBLANKROW(Dim_Client))"),
    special("REMOVEFILTERS", 1, ANY, Filter, "Removes filters (ALL as a CALCULATE modifier).", "CALCULATE([CA_Total], REMOVEFILTERS(Dim_Canal))"),
    special(
        "KEEPFILTERS",
        1,
        1,
        Filter,
        "A filter argument that intersects with the context instead of replacing it.",
        "CALCULATE([CA_Total], KEEPFILTERS(Dim_Canal[Nom_Canal] = \"Web\"))",
    ),
    special(
        "TREATAS",
        2,
        2,
        Filter,
        "The values of a table constructor as a filter on a column (the filter a slicer selection sends).",
        "CALCULATE([CA_Total], TREATAS({ \"Web\", \"Mobile\" }, Dim_Canal[Nom_Canal]))",
    ),
    special(
        "USERELATIONSHIP",
        2,
        2,
        Filter,
        "Uses an inactive relationship of the model for the calculation.",
        "CALCULATE([Nb_Retours], USERELATIONSHIP(Dim_Temps[ID_Date], Fait_Retours[ID_Date_Vente]))",
    ),
    special(
        "CROSSFILTER",
        3,
        3,
        Filter,
        "Changes a relationship's filter direction for the calculation (NONE or ONEWAY).",
        "CALCULATE([CA_Total], CROSSFILTER(Fait_Ventes[ID_Canal], Dim_Canal[ID_Canal], NONE))",
    ),
    // ------------------------------------------------------------------ tables
    special(
        "VALUES",
        1,
        1,
        Table,
        "The distinct values of a column (or rows of a table) in context, BLANK member included.",
        "COUNTROWS(VALUES(Dim_Produit[Categorie]))",
    ),
    special(
        "DISTINCT",
        1,
        1,
        Table,
        "The distinct values of a column in context, without the BLANK member.",
        "COUNTROWS(DISTINCT(Fait_Ventes[ID_Client]))",
    ),
    special(
        "TOPN",
        2,
        4,
        Table,
        "The first N rows of a table by an expression (ties kept).",
        "CALCULATE([CA_Total], TOPN(3, ALL(Dim_Produit[Nom_Produit]), [CA_Total]))",
    ),
    special(
        "INTERSECT",
        2,
        2,
        Table,
        "Rows in both tables (VALUES of one column on both sides).",
        "COUNTROWS(INTERSECT(VALUES(Fait_Ventes[ID_Client]), CALCULATETABLE(VALUES(Fait_Ventes[ID_Client]), SAMEPERIODLASTYEAR(Dim_Temps[Date_Complete]))))",
    ),
    // ------------------------------------------------------------------ time intelligence
    special(
        "DATEADD",
        3,
        3,
        TimeIntelligence,
        "The dates in context moved by a number of days, months, quarters or years.",
        "CALCULATE([CA_Total], DATEADD(Dim_Temps[Date_Complete], -1, MONTH))",
    ),
    special(
        "PARALLELPERIOD",
        3,
        3,
        TimeIntelligence,
        "Whole periods, moved by a number of units, spanning the dates in context.",
        "CALCULATE([CA_Total], PARALLELPERIOD(Dim_Temps[Date_Complete], -1, YEAR))",
    ),
    special(
        "SAMEPERIODLASTYEAR",
        1,
        1,
        TimeIntelligence,
        "The dates in context one year earlier.",
        "CALCULATE([CA_Total], SAMEPERIODLASTYEAR(Dim_Temps[Date_Complete]))",
    ),
    special(
        "PREVIOUSDAY",
        1,
        1,
        TimeIntelligence,
        "The day before the first date in context.",
        "CALCULATE([CA_Total], PREVIOUSDAY(Dim_Temps[Date_Complete]))",
    ),
    special(
        "PREVIOUSMONTH",
        1,
        1,
        TimeIntelligence,
        "The whole month before the first date's month.",
        "CALCULATE([CA_Total], PREVIOUSMONTH(Dim_Temps[Date_Complete]))",
    ),
    special(
        "PREVIOUSQUARTER",
        1,
        1,
        TimeIntelligence,
        "The whole quarter before the first date's quarter.",
        "CALCULATE([CA_Total], PREVIOUSQUARTER(Dim_Temps[Date_Complete]))",
    ),
    special(
        "PREVIOUSYEAR",
        1,
        1,
        TimeIntelligence,
        "The whole year before the first date's year.",
        "CALCULATE([CA_Total], PREVIOUSYEAR(Dim_Temps[Date_Complete]))",
    ),
    special("NEXTDAY", 1, 1, TimeIntelligence, "The day after the last date in context.", "CALCULATE([CA_Total], NEXTDAY(Dim_Temps[Date_Complete]))"),
    special(
        "NEXTMONTH",
        1,
        1,
        TimeIntelligence,
        "The whole month after the last date's month.",
        "CALCULATE([CA_Total], NEXTMONTH(Dim_Temps[Date_Complete]))",
    ),
    special(
        "NEXTQUARTER",
        1,
        1,
        TimeIntelligence,
        "The whole quarter after the last date's quarter.",
        "CALCULATE([CA_Total], NEXTQUARTER(Dim_Temps[Date_Complete]))",
    ),
    special(
        "NEXTYEAR",
        1,
        1,
        TimeIntelligence,
        "The whole year after the last date's year.",
        "CALCULATE([CA_Total], NEXTYEAR(Dim_Temps[Date_Complete]))",
    ),
    special(
        "DATESMTD",
        1,
        1,
        TimeIntelligence,
        "From the first of the month to the last date in context.",
        "CALCULATE([CA_Total], DATESMTD(Dim_Temps[Date_Complete]))",
    ),
    special(
        "DATESQTD",
        1,
        1,
        TimeIntelligence,
        "From the start of the quarter to the last date in context.",
        "CALCULATE([CA_Total], DATESQTD(Dim_Temps[Date_Complete]))",
    ),
    special(
        "DATESYTD",
        1,
        1,
        TimeIntelligence,
        "From 1 January to the last date in context.",
        "CALCULATE([CA_Total], DATESYTD(Dim_Temps[Date_Complete]))",
    ),
    special(
        "TOTALMTD",
        2,
        3,
        TimeIntelligence,
        "An expression month to date (CALCULATE with DATESMTD and an optional filter).",
        "TOTALMTD([CA_Total], Dim_Temps[Date_Complete])",
    ),
    special("TOTALQTD", 2, 3, TimeIntelligence, "An expression quarter to date.", "TOTALQTD([CA_Total], Dim_Temps[Date_Complete])"),
    special("TOTALYTD", 2, 3, TimeIntelligence, "An expression year to date.", "TOTALYTD([CA_Total], Dim_Temps[Date_Complete])"),
    special(
        "DATESBETWEEN",
        3,
        3,
        TimeIntelligence,
        "The dates from a start to an end date (BLANK: open).",
        "CALCULATE([CA_Total], DATESBETWEEN(Dim_Temps[Date_Complete], DATE(2024, 1, 1), DATE(2024, 6, 30)))",
    ),
    special(
        "DATESINPERIOD",
        4,
        4,
        TimeIntelligence,
        "The dates of a number of units from a start date (negative: ending on it).",
        "CALCULATE([CA_Total], DATESINPERIOD(Dim_Temps[Date_Complete], LASTDATE(Dim_Temps[Date_Complete]), -3, MONTH))",
    ),
    special(
        "FIRSTDATE",
        1,
        1,
        TimeIntelligence,
        "The first date in context (a table of one date, or its value).",
        "FIRSTDATE(Dim_Temps[Date_Complete])",
    ),
    special("LASTDATE", 1, 1, TimeIntelligence, "The last date in context.", "LASTDATE(Dim_Temps[Date_Complete])"),
    special(
        "STARTOFMONTH",
        1,
        1,
        TimeIntelligence,
        "The first date of the month of the first date in context.",
        "STARTOFMONTH(Dim_Temps[Date_Complete])",
    ),
    special("ENDOFMONTH", 1, 1, TimeIntelligence, "The last date of the month of the last date in context.", "ENDOFMONTH(Dim_Temps[Date_Complete])"),
    special(
        "STARTOFQUARTER",
        1,
        1,
        TimeIntelligence,
        "The first date of the quarter of the first date in context.",
        "STARTOFQUARTER(Dim_Temps[Date_Complete])",
    ),
    special(
        "ENDOFQUARTER",
        1,
        1,
        TimeIntelligence,
        "The last date of the quarter of the last date in context.",
        "ENDOFQUARTER(Dim_Temps[Date_Complete])",
    ),
    special(
        "STARTOFYEAR",
        1,
        1,
        TimeIntelligence,
        "The first date of the year of the first date in context.",
        "STARTOFYEAR(Dim_Temps[Date_Complete])",
    ),
    special("ENDOFYEAR", 1, 1, TimeIntelligence, "The last date of the year of the last date in context.", "ENDOFYEAR(Dim_Temps[Date_Complete])"),
    special(
        "OPENINGBALANCEMONTH",
        2,
        3,
        TimeIntelligence,
        "An expression at the end of the previous month.",
        "OPENINGBALANCEMONTH(SUM(Fait_Stock[Quantite_Stock]), Dim_Temps[Date_Complete])",
    ),
    special(
        "OPENINGBALANCEQUARTER",
        2,
        3,
        TimeIntelligence,
        "An expression at the end of the previous quarter.",
        "OPENINGBALANCEQUARTER(SUM(Fait_Stock[Quantite_Stock]), Dim_Temps[Date_Complete])",
    ),
    special(
        "OPENINGBALANCEYEAR",
        2,
        3,
        TimeIntelligence,
        "An expression at the end of the previous year.",
        "OPENINGBALANCEYEAR(SUM(Fait_Stock[Quantite_Stock]), Dim_Temps[Date_Complete])",
    ),
    special(
        "CLOSINGBALANCEMONTH",
        2,
        3,
        TimeIntelligence,
        "An expression at the last date of the month.",
        "CLOSINGBALANCEMONTH(SUM(Fait_Stock[Quantite_Stock]), Dim_Temps[Date_Complete])",
    ),
    special(
        "CLOSINGBALANCEQUARTER",
        2,
        3,
        TimeIntelligence,
        "An expression at the last date of the quarter.",
        "CLOSINGBALANCEQUARTER(SUM(Fait_Stock[Quantite_Stock]), Dim_Temps[Date_Complete])",
    ),
    special(
        "CLOSINGBALANCEYEAR",
        2,
        3,
        TimeIntelligence,
        "An expression at the last date of the year.",
        "CLOSINGBALANCEYEAR(SUM(Fait_Stock[Quantite_Stock]), Dim_Temps[Date_Complete])",
    ),
    special(
        "FIRSTNONBLANK",
        2,
        2,
        TimeIntelligence,
        "The first value of a column for which an expression is not blank.",
        "FIRSTNONBLANK(Dim_Temps[Date_Complete], [CA_Total])",
    ),
    special(
        "LASTNONBLANK",
        2,
        2,
        TimeIntelligence,
        "The last value of a column for which an expression is not blank.",
        "LASTNONBLANK(Dim_Temps[Date_Complete], [CA_Total])",
    ),
    // ------------------------------------------------------------------ information
    special("ISBLANK", 1, 1, Information, "Whether a value is BLANK (0 and \"\" are not).", "ISBLANK([CA_Annee_Precedente])"),
    special("ISEMPTY", 1, 1, Information, "Whether a table expression has no rows.", "ISEMPTY(Fait_Retours)"),
    special("ISFILTERED", 1, 1, Information, "Whether a column (or a table's columns) is filtered directly.", "ISFILTERED(Dim_Canal[Nom_Canal])"),
    special(
        "ISCROSSFILTERED",
        1,
        1,
        Information,
        "Whether a column or table is filtered directly or through a relationship.",
        "ISCROSSFILTERED(Dim_Client)",
    ),
    special("ISINSCOPE", 1, 1, Information, "Whether the query groups by the column in the current row.", "ISINSCOPE(Dim_Produit[Nom_Produit])"),
    special("HASONEVALUE", 1, 1, Information, "Whether exactly one value of the column is visible.", "HASONEVALUE(Dim_Canal[Nom_Canal])"),
    special("HASONEFILTER", 1, 1, Information, "Whether the column is filtered directly to one value.", "HASONEFILTER(Dim_Canal[Nom_Canal])"),
    special(
        "SELECTEDVALUE",
        1,
        2,
        Information,
        "The column's value when exactly one is visible, else the alternate (BLANK).",
        "SELECTEDVALUE(Dim_Canal[Nom_Canal], \"Tous\")",
    ),
    // ------------------------------------------------------------------ logical
    special("IF", 2, 3, Logical, "A value by condition; the missing else is BLANK.", "IF([CA_Total] > 1000, \"Haut\", \"Bas\")"),
    special("IF.EAGER", 2, 3, Logical, "IF evaluating both branches (same result here).", "IF.EAGER([CA_Total] > 1000, 1, 0)"),
    special(
        "SWITCH",
        3,
        ANY,
        Logical,
        "The result of the first matching value (or the first TRUE condition with SWITCH(TRUE(), ...)).",
        "SWITCH(TRUE(), [Taux_Marge] > 0.3, \"A\", [Taux_Marge] > 0.1, \"B\", \"C\")",
    ),
    special("AND", 2, 2, Logical, "Both conditions.", "AND([CA_Total] > 0, [Nb_Retours] = 0)"),
    special("OR", 2, 2, Logical, "Either condition.", "OR(ISBLANK([CA_Total]), [CA_Total] = 0)"),
    special("NOT", 1, 1, Logical, "The opposite condition.", "NOT(ISBLANK([CA_Total]))"),
    special("TRUE", 0, 0, Logical, "The value TRUE.", "TRUE()"),
    special("FALSE", 0, 0, Logical, "The value FALSE.", "FALSE()"),
    special("BLANK", 0, 0, Logical, "The BLANK value.", "IF([CA_Total] = 0, BLANK(), [CA_Total])"),
    special("COALESCE", 2, ANY, Logical, "The first argument that is not BLANK.", "COALESCE([CA_Annee_Precedente], 0)"),
    // ------------------------------------------------------------------ math
    special(
        "DIVIDE",
        2,
        3,
        Math,
        "Division that gives the alternate (BLANK) for a zero or BLANK denominator.",
        "DIVIDE([Marge_Totale], [CA_Total], 0)",
    ),
    sql("ABS", 1, 1, Math, &["abs(CAST({0} AS DOUBLE))"], Returns::Number, "Absolute value.", "ABS([Evolution_CA_YoY])"),
    sql(
        "ROUND",
        1,
        2,
        Math,
        &["round(CAST({0} AS DOUBLE))", "round(CAST({0} AS DOUBLE), CAST({1} AS INT))"],
        Returns::Number,
        "Rounds half away from zero to a number of digits.",
        "ROUND([Panier_Moyen], 2)",
    ),
    sql(
        "ROUNDUP",
        2,
        2,
        Math,
        &[
            "(signum(CAST({0} AS DOUBLE)) * ceil(abs(CAST({0} AS DOUBLE)) * power(10.0, CAST({1} AS DOUBLE)) - 1e-9) / power(10.0, CAST({1} AS DOUBLE)))",
        ],
        Returns::Number,
        "Rounds away from zero.",
        "ROUNDUP([Panier_Moyen], 0)",
    ),
    sql(
        "ROUNDDOWN",
        2,
        2,
        Math,
        &["trunc(CAST({0} AS DOUBLE), CAST({1} AS INT))"],
        Returns::Number,
        "Rounds toward zero.",
        "ROUNDDOWN([Panier_Moyen], 1)",
    ),
    sql("INT", 1, 1, Math, &["floor(CAST({0} AS DOUBLE))"], Returns::Number, "Rounds down to an integer.", "INT([Panier_Moyen])"),
    sql(
        "TRUNC",
        1,
        2,
        Math,
        &["trunc(CAST({0} AS DOUBLE))", "trunc(CAST({0} AS DOUBLE), CAST({1} AS INT))"],
        Returns::Number,
        "Drops the fraction.",
        "TRUNC([Panier_Moyen])",
    ),
    sql(
        "MOD",
        2,
        2,
        Math,
        &["(CAST({0} AS DOUBLE) - CAST({1} AS DOUBLE) * floor(CAST({0} AS DOUBLE) / CAST({1} AS DOUBLE)))"],
        Returns::Number,
        "Remainder, with the divisor's sign.",
        "MOD([Nb_Transactions], 7)",
    ),
    sql(
        "POWER",
        2,
        2,
        Math,
        &["power(CAST({0} AS DOUBLE), CAST({1} AS DOUBLE))"],
        Returns::Number,
        "A number raised to a power.",
        "POWER(1 + [Evolution_CA_YoY], 2)",
    ),
    sql("SQRT", 1, 1, Math, &["sqrt(CAST({0} AS DOUBLE))"], Returns::Number, "Square root.", "SQRT([Nb_Transactions])"),
    sql("EXP", 1, 1, Math, &["exp(CAST({0} AS DOUBLE))"], Returns::Number, "e raised to a power.", "EXP(1)"),
    sql("LN", 1, 1, Math, &["ln(CAST({0} AS DOUBLE))"], Returns::Number, "Natural logarithm.", "LN([CA_Total])"),
    sql("LOG10", 1, 1, Math, &["log10(CAST({0} AS DOUBLE))"], Returns::Number, "Base-10 logarithm.", "LOG10([CA_Total])"),
    sql("SIGN", 1, 1, Math, &["signum(CAST({0} AS DOUBLE))"], Returns::Number, "-1, 0 or 1.", "SIGN([Evolution_CA_YoY])"),
    // ------------------------------------------------------------------ text
    sql(
        "FORMAT",
        2,
        2,
        Text,
        &["dax_format({0}, {1})"],
        Returns::Text,
        "A number or date as text by a format string (0.00, #,##0, 0%, yyyy-mm-dd, mmmm yyyy, ...).",
        "FORMAT([Taux_Marge], \"0.0%\")",
    ),
    sql(
        "LEFT",
        1,
        2,
        Text,
        &["left(COALESCE(CAST({0} AS VARCHAR), ''), 1)", "left(COALESCE(CAST({0} AS VARCHAR), ''), CAST({1} AS BIGINT))"],
        Returns::Text,
        "The first characters of a text.",
        "LEFT(SELECTEDVALUE(Dim_Produit[Nom_Produit]), 3)",
    ),
    sql(
        "RIGHT",
        1,
        2,
        Text,
        &["right(COALESCE(CAST({0} AS VARCHAR), ''), 1)", "right(COALESCE(CAST({0} AS VARCHAR), ''), CAST({1} AS BIGINT))"],
        Returns::Text,
        "The last characters of a text.",
        "RIGHT(SELECTEDVALUE(Dim_Produit[SKU]), 2)",
    ),
    sql(
        "LEN",
        1,
        1,
        Text,
        &["CAST(character_length(COALESCE(CAST({0} AS VARCHAR), '')) AS DOUBLE)"],
        Returns::Number,
        "Number of characters.",
        "LEN(SELECTEDVALUE(Dim_Produit[Nom_Produit]))",
    ),
    sql(
        "UPPER",
        1,
        1,
        Text,
        &["upper(COALESCE(CAST({0} AS VARCHAR), ''))"],
        Returns::Text,
        "Upper case.",
        "UPPER(SELECTEDVALUE(Dim_Canal[Nom_Canal]))",
    ),
    sql(
        "LOWER",
        1,
        1,
        Text,
        &["lower(COALESCE(CAST({0} AS VARCHAR), ''))"],
        Returns::Text,
        "Lower case.",
        "LOWER(SELECTEDVALUE(Dim_Canal[Nom_Canal]))",
    ),
    sql(
        "CONCATENATE",
        2,
        2,
        Text,
        &["(COALESCE(CAST({0} AS VARCHAR), '') || COALESCE(CAST({1} AS VARCHAR), ''))"],
        Returns::Text,
        "Two texts joined (as the & operator).",
        "CONCATENATE(\"Canal \", SELECTEDVALUE(Dim_Canal[Nom_Canal]))",
    ),
    sql(
        "TRIM",
        1,
        1,
        Text,
        &["trim(COALESCE(CAST({0} AS VARCHAR), ''))"],
        Returns::Text,
        "Spaces removed at both ends.",
        "TRIM(SELECTEDVALUE(Dim_Client[Ville]))",
    ),
    // ------------------------------------------------------------------ dates
    sql(
        "YEAR",
        1,
        1,
        Date,
        &["CAST(date_part('year', {0}) AS DOUBLE)"],
        Returns::Number,
        "The year of a date.",
        "YEAR(LASTDATE(Dim_Temps[Date_Complete]))",
    ),
    sql(
        "QUARTER",
        1,
        1,
        Date,
        &["CAST(date_part('quarter', {0}) AS DOUBLE)"],
        Returns::Number,
        "The quarter (1-4) of a date.",
        "QUARTER(LASTDATE(Dim_Temps[Date_Complete]))",
    ),
    sql(
        "MONTH",
        1,
        1,
        Date,
        &["CAST(date_part('month', {0}) AS DOUBLE)"],
        Returns::Number,
        "The month (1-12) of a date.",
        "MONTH(LASTDATE(Dim_Temps[Date_Complete]))",
    ),
    sql(
        "DAY",
        1,
        1,
        Date,
        &["CAST(date_part('day', {0}) AS DOUBLE)"],
        Returns::Number,
        "The day of the month of a date.",
        "DAY(LASTDATE(Dim_Temps[Date_Complete]))",
    ),
    sql(
        "DATE",
        3,
        3,
        Date,
        &[
            "CAST(CAST(make_date(CAST(floor((CAST({0} AS DOUBLE) * 12 + CAST({1} AS DOUBLE) - 1) / 12) AS INT), CAST(((CAST({0} AS BIGINT) * 12 + CAST({1} AS BIGINT) - 1) % 12 + 12) % 12 + 1 AS INT), 1) AS INT) + CAST({2} AS INT) - 1 AS DATE)",
        ],
        Returns::Date,
        "A date from year, month and day (months and days beyond their range carry over).",
        "DATE(2024, 12, 31)",
    ),
    sql(
        "EOMONTH",
        2,
        2,
        Date,
        &["CAST(date_trunc('month', CAST({0} AS DATE)) + (CAST({1} AS INT) + 1) * INTERVAL '1' MONTH - INTERVAL '1' DAY AS DATE)"],
        Returns::Date,
        "The last day of the month a number of months away.",
        "EOMONTH(LASTDATE(Dim_Temps[Date_Complete]), 0)",
    ),
    sql(
        "EDATE",
        2,
        2,
        Date,
        &["CAST(CAST({0} AS DATE) + CAST({1} AS INT) * INTERVAL '1' MONTH AS DATE)"],
        Returns::Date,
        "The same day a number of months away (clamped to the month's end).",
        "EDATE(LASTDATE(Dim_Temps[Date_Complete]), -1)",
    ),
    special(
        "DATEDIFF",
        3,
        3,
        Date,
        "Whole unit boundaries crossed between two dates (DAY, MONTH, QUARTER, YEAR).",
        "DATEDIFF(FIRSTDATE(Dim_Temps[Date_Complete]), LASTDATE(Dim_Temps[Date_Complete]), DAY)",
    ),
];

pub fn lookup(name: &str) -> Option<&'static Function> {
    FUNCTIONS.iter().find(|f| f.name.eq_ignore_ascii_case(name))
}

/// Functions that Power BI users may try and that are deliberately not supported, with the reason.
pub const UNSUPPORTED: &[(&str, &str)] = &[
    (
        "TODAY",
        "measures are evaluated at query time on imported data; a measure depending on the clock would make cached results and tests wrong (use DATE(...) or LASTDATE(...))",
    ),
    ("NOW", "as TODAY: the result would depend on the clock"),
    ("RAND", "a measure must give the same number every time it is evaluated"),
    ("RANDBETWEEN", "a measure must give the same number every time it is evaluated"),
    ("EARLIER", "calculated columns are not part of the model (measures only); use VAR to keep an outer value"),
    ("PATH", "parent-child hierarchies are not part of the model"),
    ("LOOKUPVALUE", "not yet supported: use RELATED in a row context or CALCULATE(MIN(...), filter)"),
    ("SUMMARIZE", "not yet supported as a measure's table; iterate VALUES(Table[Column]) instead"),
    ("ADDCOLUMNS", "not yet supported as a measure's table; iterate VALUES(Table[Column]) instead"),
    ("GENERATE", "not yet supported"),
];

const HEADER: &str = "# DAX in OmniMarket 360

Generated from `src/lowering/functions.rs` by `omnimarket dax-reference` (a test fails when this page is stale).
Every function below works in measures (`semantic/measures.yaml`) in any nesting DAX allows. Tests: one
sqllogictest file per family in `tests/slt/`, each value computed independently.

## How measures are evaluated

- **Filter context.** A query's group-by values and WHERE filters are the context of each row. CALCULATE's filter
  arguments change it: a condition on columns of one table (`Dim_Canal[Nom_Canal] IN { \"Web\", \"Mobile\" }`)
  replaces the filters on those columns, KEEPFILTERS intersects instead, ALL/REMOVEFILTERS/ALLEXCEPT remove
  filters, ALLSELECTED keeps the query's filters but drops the row's own. Modifiers (ALL...) apply before filters.
  Filters flow from the one side of a relationship to the many side (`Dim_Produit` filters `Fait_Ventes`).
- **Marked date table.** `Dim_Temps[Date_Complete]` is the date column: a filter on it (time intelligence,
  `FILTER(ALL(Dim_Temps[Date_Complete]), ...)`) replaces every filter on `Dim_Temps`, as in Power BI.
- **Row context.** Iterators (SUMX, FILTER, RANKX, ...) evaluate an expression per row of a table: a fact with
  RELATED columns compiles to one GROUP BY; VALUES(T[c]), ALL(...) or a dimension table with a measure inside
  are evaluated per item with context transition (a measure reference or CALCULATE turns the row into a filter;
  a bare SUM inside an iterator sees the outer context, as in DAX).
- **Context-dependent filters.** A measure inside FILTER used as a CALCULATE filter, or TOPN as a filter, is
  evaluated per row of the query: `CALCULATE([CA_Total], FILTER(VALUES(Dim_Client[ID_Client]), [CA_Total] > 300))`.
- **BLANK.** BLANK + 1 = 1, BLANK * 1 = BLANK, BLANK = 0 is TRUE but BLANK == 0 is FALSE, DIVIDE by 0 or BLANK
  gives the alternate (BLANK), counts over no rows are BLANK, a row whose measures are all BLANK is not shown.
  The BLANK member of a dimension (rows of a fact whose key it lacks) is counted by VALUES/ALL, not by DISTINCT.
- **One bad measure stays one bad measure.** A measure that does not parse or bind is reported with its file,
  line and column (`omnimarket validate` exits 1); every other measure keeps working.
- **Limits.** A measure is at most 64 KiB and 100 levels deep; its compiled SQL grows linearly with it.

## Adding a function

One entry in `FUNCTIONS` (name, arity, family, summary, example, lowering). A scalar function whose SQL is a
template (`Lowering::Sql`) needs nothing else. One that reads tables, changes the context or iterates is
`Lowering::Special` with a case in `src/lowering/binder.rs` (`Binder::call`), `tables.rs` (table expressions,
CALCULATE filters) or `time.rs`, and where it needs new SQL a case in `src/query/plan/`. Then regenerate this
page and add a `.slt` test with independently computed values.

Operators: `+ - * / & = == <> < <= > >= && || NOT IN`, table constructors `{ \"a\", \"b\" }`, `VAR ... RETURN`.
";

/// The reference page `docs/dax.md`, generated from the registry.
pub fn reference_markdown() -> String {
    use std::fmt::Write;
    let mut out = String::from(HEADER);
    for family in Family::ALL {
        let fs: Vec<&Function> = FUNCTIONS.iter().filter(|f| f.family == family).collect();
        if fs.is_empty() {
            continue;
        }
        let _ = write!(out, "\n## {}\n\n| Function | Arguments | What it does | Example |\n|---|---|---|---|\n", family.title());
        for f in fs {
            let args = match (f.min_args, f.max_args) {
                (a, b) if a == b => format!("{a}"),
                (a, ANY) => format!("{a}+"),
                (a, b) => format!("{a}-{b}"),
            };
            let _ = writeln!(out, "| `{}` | {args} | {} | `{}` |", f.name, f.summary, f.example.replace('|', "\\|"));
        }
    }
    out.push_str("\n## Not supported, and why\n\n");
    for (name, why) in UNSUPPORTED {
        let _ = writeln!(out, "- `{name}`: {why}.");
    }
    out
}

/// SQL templates the binder uses for pieces of DAX functions (names start with `@`, so no DAX call reaches
/// them); `{*}` stands for every argument, comma-separated.
const INTERNAL: &[(&str, &str, Returns)] = &[
    ("@isblank", "({0} IS NULL)", Returns::Bool),
    ("@coalesce", "coalesce({*})", Returns::FirstArgument),
    ("@greatest", "greatest({*})", Returns::FirstArgument),
    ("@least", "least({*})", Returns::FirstArgument),
    ("@startof_month", "CAST(date_trunc('month', CAST({0} AS DATE)) AS DATE)", Returns::Date),
    ("@startof_quarter", "CAST(date_trunc('quarter', CAST({0} AS DATE)) AS DATE)", Returns::Date),
    ("@startof_year", "CAST(date_trunc('year', CAST({0} AS DATE)) AS DATE)", Returns::Date),
    ("@endof_month", "CAST(date_trunc('month', CAST({0} AS DATE)) + INTERVAL '1' MONTH - INTERVAL '1' DAY AS DATE)", Returns::Date),
    ("@endof_quarter", "CAST(date_trunc('quarter', CAST({0} AS DATE)) + INTERVAL '3' MONTH - INTERVAL '1' DAY AS DATE)", Returns::Date),
    ("@endof_year", "CAST(date_trunc('year', CAST({0} AS DATE)) + INTERVAL '1' YEAR - INTERVAL '1' DAY AS DATE)", Returns::Date),
    ("@datediff_day", "CAST(CAST(CAST({1} AS DATE) AS INT) - CAST(CAST({0} AS DATE) AS INT) AS DOUBLE)", Returns::Number),
    (
        "@datediff_month",
        "CAST((date_part('year', {1}) * 12 + date_part('month', {1})) - (date_part('year', {0}) * 12 + date_part('month', {0})) AS DOUBLE)",
        Returns::Number,
    ),
    (
        "@datediff_quarter",
        "CAST((date_part('year', {1}) * 4 + date_part('quarter', {1})) - (date_part('year', {0}) * 4 + date_part('quarter', {0})) AS DOUBLE)",
        Returns::Number,
    ),
    ("@datediff_year", "CAST(date_part('year', {1}) - date_part('year', {0}) AS DOUBLE)", Returns::Number),
];

pub fn internal(name: &str) -> Option<(&'static str, Returns)> {
    INTERNAL.iter().find(|(n, _, _)| *n == name).map(|(_, t, r)| (*t, *r))
}

/// The SQL template of a scalar function for `arity` arguments.
pub fn template(name: &str, arity: usize) -> Option<&'static str> {
    if let Some((t, _)) = internal(name) {
        return Some(t);
    }
    match lookup(name)?.lowering {
        Lowering::Sql(templates, _) => {
            let f = lookup(name)?;
            templates.get(arity.saturating_sub(f.min_args)).or(templates.last()).copied()
        }
        Lowering::Special => None,
    }
}
